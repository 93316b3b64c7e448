"""A client generated from xikang's OpenAPI document, used against a running server.

openapi-python-client turns docs/openapi.json into a typed Python package; this script uses
it as a venue's software would: read a person's code, record a scan of it at a venue, and
read the check-in back. Every answer is parsed by the generated models, which raise on a
missing required field or an unknown enum value; the script also fails on fields the
document does not declare (they land in `additional_properties`). So the test fails when the
document and the server disagree.

    XIKANG_URL=http://127.0.0.1:8080 XIKANG_ADMIN_TOKEN=xk-... python3 client_test.py docs/openapi.json
"""

import importlib
import os
import subprocess
import sys
import tempfile
import time


def generate(document: str, into: str) -> str:
    """Generates the client package into `into`; returns its import name."""
    subprocess.run(
        [
            "openapi-python-client",
            "generate",
            "--path",
            document,
            "--output-path",
            os.path.join(into, "client"),
            "--meta",
            "none",
            "--overwrite",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    sys.path.insert(0, into)
    return "client"


def call(pkg: str, tag: str, operation: str, client, **kwargs):
    """Calls a generated operation; returns the parsed answer, failing on a non-2xx."""
    module = importlib.import_module(f"{pkg}.api.{tag}.{operation}")
    response = module.sync_detailed(client=client, **kwargs)
    status = int(response.status_code)
    assert 200 <= status < 300, f"{operation}: {status} {response.content[:300]!r}"
    assert response.parsed is not None, f"{operation}: the answer was not parsed"
    return response.parsed


def undeclared(model) -> list:
    """Fields the server sent that the document does not declare, recursively."""
    found = []
    extra = getattr(model, "additional_properties", None)
    if extra:
        found.append(f"{type(model).__name__}: {sorted(extra)}")
    for value in getattr(model, "__dict__", {}).values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if hasattr(item, "additional_properties"):
                found.extend(undeclared(item))
    return found


def main() -> None:
    document = sys.argv[1]
    url = os.environ["XIKANG_URL"]
    token = os.environ["XIKANG_ADMIN_TOKEN"]
    with tempfile.TemporaryDirectory() as tmp:
        pkg = generate(document, tmp)
        client_mod = importlib.import_module(pkg)
        client = client_mod.AuthenticatedClient(base_url=url, token=token, raise_on_unexpected_status=True)

        # A venue to scan at, and a resident of the city.
        venues = call(pkg, "venues", "get_venues", client)
        venue = venues.items[0]
        people = call(pkg, "people", "get_people", client)
        person = people.items[0]

        # The resident's code: colour, signed token, explanation.
        code = call(pkg, "codes", "get_people_id_code", client, id=person.id)
        assert str(code.colour) in ("green", "yellow", "red"), code.colour
        assert code.token.startswith("XK1:"), code.token

        # The venue scans it (one scan, not a batch): the decision at the door.
        scan_module = importlib.import_module(f"{pkg}.models.scan_item")
        scan = scan_module.ScanItem(place_code=venue.place_code, token=code.token)
        answer = call(pkg, "scans", "post_scans", client, body=scan)
        assert hasattr(answer, "decision"), f"a single scan answered {answer!r}"

        # The check-in is there when read back. Check-ins are read from the tracing index,
        # which answers 503 `index_loading` until loaded and which the scan writer feeds
        # right after answering the device (docs/tracing.md, "Loading"): the read may come
        # a moment early, so it is repeated for up to ten seconds.
        deadline = time.monotonic() + 10
        while True:
            try:
                checkins = call(pkg, "scans", "get_scans", client, person=person.id)
                recorded = any(c.venue == venue.id for c in checkins.items)
            except AssertionError as e:
                if "index_loading" not in str(e) or time.monotonic() > deadline:
                    raise
                recorded = False
            if recorded or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert recorded, "the scan was not recorded"

        problems = []
        for model in (venues, people, code, answer, checkins):
            problems.extend(undeclared(model))
        assert not problems, "fields the document does not declare: " + "; ".join(problems)
    print("generated client: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
