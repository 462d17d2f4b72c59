#!/usr/bin/env python3
"""Checks that no object of one user is readable, listable or changeable by another.

Usage: isolation.py BASE_URL

Registers two users, A and B (fresh names), gives A a changelog (two revisions, tags, an
annotation) and an API key, then tries every route on A's objects as B, with B's access token
and with B's API key in both places it may be sent. Each attempt must answer 404, as for an
object that does not exist: never 200 (a leak) nor 403 (which would confirm the object
exists). B's listings must not show A's objects, and A's objects must be unchanged afterwards.

Standard library only. Exits 1 on the first run with a failed check, after printing them all.
"""

import json
import secrets
import sys
import urllib.error
import urllib.request

BASE = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8080"
API = BASE + "/api/v1"

failures = []
passed = 0


def call(method, path, token=None, body=None, headers=None, api_key=None):
    """(status, parsed JSON or text) of a request to the API."""
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    if token:
        all_headers["Authorization"] = "Bearer " + token
    if api_key:
        all_headers["X-API-Key"] = api_key
    request = urllib.request.Request(API + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def check(condition, message):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)


def expect(status, wanted, what):
    check(status == wanted, f"{what}: expected {wanted}, got {status}")


def user(prefix):
    name = f"{prefix}_{secrets.token_hex(4)}"
    password = "isolation check " + secrets.token_hex(8)
    status, body = call(
        "POST",
        "/auth/register",
        body={"username": name, "email": f"{name}@example.com", "password": password},
    )
    expect(status, 201, f"register {name}")
    status, tokens = call("POST", "/auth/login", body={"username": name, "password": password})
    expect(status, 200, f"log in {name}")
    token = tokens["access_token"]
    status, key = call("POST", "/auth/api-keys", token, {"name": f"{prefix} key"})
    expect(status, 201, f"API key of {name}")
    return {"name": name, "id": body["id"], "token": token, "key": key}


def main():
    a = user("a")
    b = user("b")
    marker = "isolationmarker" + secrets.token_hex(4)

    # A's objects.
    status, changelog = call(
        "POST",
        "/changelogs",
        a["token"],
        {
            "source": "manual",
            "title": f"A's notes {marker}",
            "content": f"- {marker}",
            "version": "v9.9.9",
            "repo_url": "https://example.com/a/private",
            "tags": [f"tag-{marker}"],
        },
    )
    expect(status, 201, "A creates a changelog")
    cid = changelog["id"]
    status, _ = call(
        "PATCH", f"/changelogs/{cid}", a["token"], {"content": f"- {marker} 2", "revision": 1}
    )
    expect(status, 200, "A edits it (revision 2)")
    status, note = call("POST", f"/changelogs/{cid}/annotations", a["token"], {"body": marker})
    expect(status, 201, "A annotates it")
    nid = note["id"]
    kid = a["key"]["id"]

    # Every route on A's objects, as B.
    attempts = [
        ("GET", f"/changelogs/{cid}", None, {}),
        ("GET", f"/changelogs/{cid}", None, {"If-None-Match": '"2"'}),
        ("GET", f"/changelogs/{cid}/versions", None, {}),
        ("GET", f"/changelogs/{cid}/annotations", None, {}),
        ("GET", f"/changelogs/{cid}/export", None, {}),
        ("GET", f"/changelogs/{cid}/export?format=json", None, {}),
        ("GET", f"/changelogs/{cid}/export?format=html", None, {}),
        ("PUT", f"/changelogs/{cid}", {"title": "B", "content": "B", "revision": 2}, {}),
        ("PATCH", f"/changelogs/{cid}", {"title": "B"}, {"If-Match": '"2"'}),
        ("PUT", f"/changelogs/{cid}/tags", {"tags": ["b"], "revision": 2}, {}),
        ("POST", f"/changelogs/{cid}/versions/1/restore", {"revision": 2}, {}),
        ("POST", f"/changelogs/{cid}/annotations", {"body": "B was here"}, {}),
        ("PATCH", f"/changelogs/{cid}/annotations/{nid}", {"body": "B was here"}, {}),
        ("DELETE", f"/changelogs/{cid}/annotations/{nid}", None, {}),
        ("DELETE", f"/changelogs/{cid}", None, {}),
        ("DELETE", f"/auth/api-keys/{kid}", None, {}),
    ]
    b_key = b["key"]["key"]
    credentials = [
        ("B's access token", {"token": b["token"]}),
        ("B's API key as bearer", {"token": b_key}),
        ("B's API key in X-API-Key", {"api_key": b_key}),
    ]
    for label, credential in credentials:
        for method, path, body, headers in attempts:
            if path.startswith("/auth/api-keys") and label != "B's access token":
                # Managing keys needs a session: an API key is refused (403) before any lookup,
                # whoever owns the key it names; that says nothing about A's key.
                continue
            status, answer = call(method, path, body=body, headers=headers, **credential)
            expect(status, 404, f"{method} {path} as {label}")
            check(marker not in json.dumps(answer), f"{method} {path} as {label} shows A's data")

        # B's listings show none of A's objects.
        for path in ["/changelogs", f"/changelogs?q={marker}", f"/changelogs?tags=tag-{marker}",
                     "/changelogs?version=v9.9.9", "/tags", "/auth/api-keys"]:
            status, answer = call("GET", path, **credential)
            if path == "/auth/api-keys" and label != "B's access token":
                # An API key does not see keys, its own user's included.
                expect(status, 403, f"GET {path} as {label}")
                continue
            expect(status, 200, f"GET {path} as {label}")
            text = json.dumps(answer)
            check(marker not in text, f"GET {path} as {label} lists A's objects")
            check(cid not in text and kid not in text, f"GET {path} as {label} shows A's ids")

    # A's objects are as A left them.
    status, current = call("GET", f"/changelogs/{cid}", a["token"])
    expect(status, 200, "A still reads the changelog")
    check(current and current["revision"] == 2, "A's changelog is still at revision 2")
    check(current and current["tags"] == [f"tag-{marker}"], "A's tags are unchanged")
    status, notes = call("GET", f"/changelogs/{cid}/annotations", a["token"])
    check(status == 200 and [n["body"] for n in notes] == [marker], "A's annotation is unchanged")
    status, keys = call("GET", "/auth/api-keys", a["token"])
    check(
        status == 200 and any(k["id"] == kid and k["revoked_at"] is None for k in keys),
        "A's API key is not revoked",
    )

    print(f"isolation: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
