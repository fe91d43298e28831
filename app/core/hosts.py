"""Host lists: the private-project allow-list (PREFLAB_LLM_ALLOWED_HOSTS) and the hosts a credential may be
sent to read the same way: host names (`*.corp.example` too), IPs, CIDR ranges, and the words `loopback`
and `private`, comma-separated."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from urllib.parse import urlsplit

from app.core.errors import InvalidInput

LOOPBACK = ("127.0.0.0/8", "::1/128")
PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
WORDS = ("loopback", "private")
HOST_NAME = re.compile(
    r"^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$"
)


def host_of(base_url: str) -> str:
    host = urlsplit(base_url).hostname
    if not host:
        raise InvalidInput(f"the endpoint {base_url!r} names no host")
    return host.lower().rstrip(".")


def host_allowed(host: str, allowed: str) -> bool:
    """Whether `host` is in the list `allowed`. Names other than localhost are matched as written, never
    resolved: what a name resolves to can change between this check and the request."""
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (e.strip().lower() for e in allowed.split(",")):
        if not entry:
            continue
        ranges: tuple[str, ...] = ()
        if entry == "loopback":
            if host == "localhost" or host.endswith(".localhost"):
                return True
            ranges = LOOPBACK
        elif entry == "private":
            ranges = PRIVATE
        elif "/" in entry:
            ranges = (entry,)
        elif address is None and fnmatch.fnmatchcase(host, entry):
            return True
        elif address is not None:
            try:
                if address == ipaddress.ip_address(entry.strip("[]")):
                    return True
            except ValueError:
                continue
        if address is not None and any(_in(address, r) for r in ranges):
            return True
    return False


def _in(address: ipaddress.IPv4Address | ipaddress.IPv6Address, cidr: str) -> bool:
    try:
        return address in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def host_entry(entry: str) -> str:
    """One entry of a host list, checked and lower-cased. A wildcard only stands for the leading labels of a
    name under a domain of two labels or more (`*.corp.example`), and no range covers every address: a
    list that matched any host would bind nothing."""
    value = entry.strip().lower()
    if value in WORDS:
        return value
    if "/" in value:
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not a CIDR range such as 10.0.0.0/8") from None
        if network.prefixlen == 0:
            raise ValueError(f"{entry!r} covers every address; name the hosts the key is for")
        return str(network)
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    if not HOST_NAME.match(value) or (value.startswith("*.") and value.count(".") < 2):
        raise ValueError(
            f"{entry!r} is not a host name, IP address, CIDR range, 'loopback' or 'private' "
            "(a wildcard only as in *.corp.example)"
        )
    return value
