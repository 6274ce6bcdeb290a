"""Roles, what each may do, and which compounds it sees.

Two questions decide every request, in this order:

1. *May this role do this kind of thing at all?*  No → 403 (the caller knows its own role, so
   saying "not allowed" leaks nothing).
2. *Is the object in one of the caller's compounds?*  No → 404, exactly as if it did not exist:
   answering 403 would confirm to a guard of compound A that resident X lives in compound B.
   This holds for reads and writes alike, and for a compound named in a filter (`?site=B`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from server.db.models import Role  # the one definition; stored in users.role


class Perm(StrEnum):
    SITES_READ = "sites.read"  # compound names/ids (not personal)
    SITES_WRITE = "sites.write"  # create/delete compounds (admin: compounds define scopes)
    REGISTRY_READ = "registry.read"  # buildings … residents, photos (personal data)
    REGISTRY_WRITE = "registry.write"
    ENTRIES_READ = "entries.read"
    ENTRIES_EXPORT = "entries.export"
    ENTRIES_REVIEW = "entries.review"  # mark a recognition as wrong (feeds the review figures)
    ALERTS_READ = "alerts.read"
    ALERTS_ACK = "alerts.ack"
    GATES_READ = "gates.read"
    GATES_WRITE = "gates.write"  # rename, change direction, deactivate, delete
    # register a gate or rotate its MQTT password: whoever holds a gate's credentials reads the
    # compound's gallery (names, placement, status, embeddings), so this is registry access and
    # stays with admins (issue 8 item 4); property managers run the gates admins provision
    GATES_PROVISION = "gates.provision"
    GATES_COMMAND = "gates.command"  # snapshot / reload / open
    GATES_OPEN = "gates.open"  # remote door open only
    STATS_READ = "stats.read"
    AUDIT_READ = "audit.read"
    USERS_WRITE = "users.write"
    CONTROL_SET = "control.set"  # a compound's control level (normal / heightened / lockdown)


_GRANTS: dict[Role, frozenset[Perm]] = {
    Role.GUARD: frozenset({
        Perm.SITES_READ, Perm.ENTRIES_READ, Perm.ALERTS_READ, Perm.ALERTS_ACK, Perm.GATES_READ,
        Perm.GATES_OPEN,
    }),
    Role.PROPERTY_MANAGER: frozenset({
        Perm.SITES_READ, Perm.GATES_READ, Perm.GATES_WRITE, Perm.GATES_COMMAND, Perm.GATES_OPEN,
        Perm.STATS_READ,
    }),
    Role.COMMUNITY_OFFICER: frozenset({
        Perm.SITES_READ, Perm.REGISTRY_READ, Perm.REGISTRY_WRITE, Perm.ENTRIES_READ, Perm.ENTRIES_EXPORT,
        Perm.ENTRIES_REVIEW, Perm.ALERTS_READ, Perm.ALERTS_ACK, Perm.GATES_READ, Perm.STATS_READ, Perm.CONTROL_SET,
    }),
    Role.ADMIN: frozenset(Perm),
}


def permissions(role: Role | str) -> frozenset[Perm]:
    try:
        return _GRANTS[Role(role)]
    except ValueError:
        return frozenset()  # an unknown role stored in the database may do nothing


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: who, which role, and which compounds (None = all, for admins)."""

    user_id: int
    username: str
    role: Role
    sites: frozenset[str] | None

    def can(self, perm: Perm) -> bool:
        return perm in permissions(self.role)

    def sees(self, site_id: str | None) -> bool:
        return self.sites is None or (site_id is not None and site_id in self.sites)

    def visible(self, site_ids: Iterable[str]) -> list[str]:
        return [s for s in site_ids if self.sees(s)]
