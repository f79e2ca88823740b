from __future__ import annotations

from pathlib import Path

import pytest

from photoark.client.auth import check_kdf_limits
from photoark.client.errors import ClientError, HomeBusy
from photoark.client.home import ClientHome
from photoark.client.lock import exclusive
from photoark.crypto.keys import ARGON2_MIN, ARGON2_MODERATE, Argon2Limits


def test_a_second_writer_on_one_home_is_refused(tmp_path: Path) -> None:
    home = ClientHome(tmp_path).ensure()
    with (
        exclusive(home, "backup"),
        pytest.raises(HomeBusy, match="backup"),
        exclusive(home, "backup"),
    ):
        pass
    with exclusive(home, "backup"):  # released
        pass


def test_weak_or_absurd_server_kdf_limits_are_refused() -> None:
    check_kdf_limits(ARGON2_MODERATE, ARGON2_MODERATE)
    with pytest.raises(ClientError, match="weak"):
        check_kdf_limits(ARGON2_MIN, ARGON2_MODERATE)
    with pytest.raises(ClientError, match="unreasonably"):
        check_kdf_limits(Argon2Limits(3, 64 * 1024**3), ARGON2_MIN)
