"""Settings the REST API needs beyond the shared server config (server/config.py)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from server.control import ControlLevels


class ApiSettings(BaseModel):
    # a rejected value is never echoed in the error (it may be the secret)
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    # Where the JWT/gallery-URL signing secret comes from: given here, or a file created once.
    secret: str | None = Field(default=None, min_length=32, repr=False)
    secret_file: Path | None = None
    token_ttl_minutes: int = Field(default=8 * 60, ge=1, le=7 * 24 * 60)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    # Base URL gates use to download galleries (what goes into ctl/gallery announcements).
    public_url: str = "http://127.0.0.1:8080"
    # Face-engine pack used for enrolment and galleries.
    pack: str = "dlib-resnet"
    # publish masked templates in gallery files (server/config.py: gallery_masked_templates)
    gallery_masked_templates: bool = True
    # Daily figures are per local calendar day of the compounds.
    timezone: str = "Asia/Shanghai"
    # Body limits, enforced before authentication and parsing (server/api/limits.py): JSON and
    # forms on every route; one photo, and a whole photo upload; a whole import (CSV + zip).
    max_json_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_photo_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_photo_upload_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_import_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    # Inside an import: the CSV, the zip's entries, and how far one entry may inflate (photos
    # are already compressed: a JPEG or PNG deflates by a few percent, a zip bomb by 1000x).
    max_csv_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_zip_entries: int = Field(default=20_000, ge=1)
    max_zip_ratio: float = Field(default=50.0, ge=1.0)
    # Debounce of gallery republishing: changes within this window go out as one version.
    gallery_debounce_s: float = Field(default=1.0, ge=0.0)
    # How long a ctl/cmd may wait for an offline gate (MQTT 5 message expiry and expires_at).
    command_ttl_s: int = Field(default=30, ge=1, le=3600)
    # Login throttling (server/api/throttle.py): failed attempts allowed per window, per account
    # and per client address, before answering 429 with Retry-After.
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=20, ge=1)
    login_window_s: float = Field(default=300.0, gt=0)
    page_limit_max: int = Field(default=500, ge=1)
    export_max_rows: int = Field(default=1_000_000, ge=1)
    control_levels: ControlLevels = Field(default_factory=ControlLevels)

    @classmethod
    def from_server(cls, cfg) -> ApiSettings:
        """From the shared server Settings (server/config.py): same secret, pack and URLs."""
        secret = cfg.secret_key.get_secret_value() if cfg.secret_key is not None else None
        return cls(
            secret=secret,
            secret_file=None if secret else Path(cfg.data_dir) / "jwt.secret",
            token_ttl_minutes=cfg.token_minutes,
            public_url=(cfg.public_url or f"http://{cfg.listen}").rstrip("/"),
            pack=cfg.pack,
            gallery_masked_templates=cfg.gallery_masked_templates,
            command_ttl_s=cfg.command_ttl_s,
            control_levels=cfg.control_levels,
        )

    def resolve_secret(self) -> str:
        from server.api.security import load_or_create_secret

        if self.secret:
            return self.secret
        if self.secret_file is None:
            raise ValueError("ApiSettings needs secret or secret_file")
        return load_or_create_secret(self.secret_file)
