"""The Socket.IO events as an AsyncAPI 3.0 document (`GET /api/asyncapi.json`).

Two kinds of namespace: `/` (presence, session events, the shared terminal) and one per
file, `/yjs|{session_id}/{path}` (y-socket.io's document sync). Socket.IO has no binding in
AsyncAPI, so each event is a message whose `name` is the event and whose payload is the
event's first argument; `x-ack` describes the acknowledgement, where there is one. The test
suite checks that the client events listed here are exactly the ones the server handles.
"""

from __future__ import annotations

from typing import Any

from collab.http.apidoc.schemas import TEXT, UUID, array, obj

S = dict[str, Any]
BINARY: S = {"type": "string", "contentEncoding": "binary", "description": "bytes"}
ERROR: S = obj({"code": TEXT, "message": TEXT})
REFUSED: S = obj({"ok": {"const": False}, "error": ERROR})


def _ack(ok: S) -> S:
    return {"oneOf": [ok, REFUSED]}


def _message(name: str, summary: str, payload: S, ack: S | None = None) -> S:
    message: S = {"name": name, "summary": summary, "payload": payload}
    if ack is not None:
        message["x-ack"] = ack
    return message


OK: S = obj({"ok": {"const": True}})
SESSION: S = obj({"session_id": UUID})
TERMINAL: S = obj({"terminal_id": TEXT})

# Events a client emits on `/`, each with its payload and its acknowledgement.
ROOT_CLIENT: dict[str, S] = {
    "session:join": _message(
        "session:join",
        "Join a session's room: its events reach this socket",
        SESSION,
        _ack(
            obj(
                {
                    "ok": {"const": True},
                    "role": TEXT,
                    "participants": array({"type": "object"}),
                    "files": array({"type": "object"}),
                    "deployments": array({"type": "object"}),
                }
            )
        ),
    ),
    "session:leave": _message("session:leave", "Leave a session's room", SESSION, _ack(OK)),
    "terminal:open": _message(
        "terminal:open",
        "Open the shared terminal on a running deployment (editors, owners)",
        obj({"deployment_id": UUID}),
        _ack(obj({"ok": {"const": True}, "terminal_id": TEXT})),
    ),
    "terminal:input": _message(
        "terminal:input", "Type into a terminal", obj({"terminal_id": TEXT, "data": TEXT}), _ack(OK)
    ),
    "terminal:resize": _message(
        "terminal:resize",
        "Resize a terminal",
        obj({"terminal_id": TEXT, "cols": {"type": "integer"}, "rows": {"type": "integer"}}),
        _ack(OK),
    ),
    "terminal:close": _message("terminal:close", "Close a terminal", TERMINAL, _ack(OK)),
    "terminal:list": _message(
        "terminal:list",
        "The session's open terminals",
        SESSION,
        _ack(obj({"ok": {"const": True}, "terminals": array({"type": "object"})})),
    ),
}

ANY: S = {"type": "object"}
# Events the server emits on `/` to the members of a session who joined it.
ROOT_SERVER: dict[str, S] = {
    name: _message(name, summary, payload)
    for name, summary, payload in [
        ("participant:joined", "Someone joined the session", ANY),
        ("participant:left", "Someone left the session", ANY),
        ("participant:updated", "A participant's role changed", ANY),
        ("session:updated", "The session changed", ANY),
        ("file:created", "A file was created", obj({"path": TEXT})),
        ("file:deleted", "A file was deleted", obj({"path": TEXT})),
        ("file:renamed", "A file was renamed", obj({"path": TEXT, "new_path": TEXT})),
        (
            "deployment:status",
            "A deployment's status changed",
            obj({"deployment_id": UUID, "status": TEXT}, {"deployment_url": TEXT}),
        ),
        ("deployment:log", "A deployment's new log lines", obj({"deployment_id": UUID})),
        ("terminal:opened", "A terminal was opened", obj({"terminal_id": TEXT})),
        ("terminal:output", "A terminal's output", obj({"terminal_id": TEXT, "data": TEXT})),
        ("terminal:resized", "A terminal was resized", obj({"terminal_id": TEXT})),
        ("terminal:closed", "A terminal closed", obj({"terminal_id": TEXT})),
    ]
}

# A file's namespace: y-socket.io's events, both directions unless said.
DOCUMENT_CLIENT: dict[str, S] = {
    "sync-step-1": _message(
        "sync-step-1",
        "A Yjs state vector; the ack carries the update the sender lacks",
        BINARY,
        BINARY,
    ),
    "sync-update": _message(
        "sync-update",
        "A Yjs update (refused for viewers with sync-error read_only, malformed with "
        "invalid_update; the document is then unchanged)",
        BINARY,
    ),
    "awareness-update": _message(
        "awareness-update", "A y-protocols awareness update (cursors, selections)", BINARY
    ),
}
DOCUMENT_SERVER: dict[str, S] = {
    **DOCUMENT_CLIENT,
    "sync-error": _message(
        "sync-error",
        "An update was refused: read_only, invalid_update, too_large, rate_limited, "
        "unavailable, ...",
        obj({"code": TEXT}, {"message": TEXT}),
    ),
}


def _channel(address: str, description: str, messages: dict[str, S], params: S | None) -> S:
    channel: S = {
        "address": address,
        "description": description,
        "messages": {_key(name): message for name, message in messages.items()},
    }
    if params:
        channel["parameters"] = params
    return channel


def _key(event: str) -> str:
    return event.replace(":", "_").replace("-", "_")


def _operations(channel: str, action: str, messages: dict[str, S]) -> dict[str, S]:
    return {
        f"{channel}_{action}_{_key(name)}": {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{_key(name)}"}],
        }
        for name in messages
    }


_ROOT_MESSAGES = {**ROOT_CLIENT, **ROOT_SERVER}
DOCUMENT: dict[str, Any] = {
    "asyncapi": "3.0.0",
    "info": {
        "title": "collab real time (Socket.IO v5)",
        "version": "1",
        "description": (
            "Connect with an official Socket.IO client to the server's origin, path "
            "`/socket.io/`, with the handshake `auth: {token}` (an access token or an API "
            "key). A bad token fails with connect_error `unauthorized`. An event's payload is "
            "its first argument; `x-ack` is what the server acknowledges with."
        ),
    },
    "servers": {
        "collab": {"host": "the server's host", "protocol": "ws", "pathname": "/socket.io/"}
    },
    "channels": {
        "root": _channel(
            "/", "Presence, session events and the shared terminal", _ROOT_MESSAGES, None
        ),
        "document": _channel(
            "/yjs|{session_id}/{path}",
            "One file's Yjs document (the Y.Text `content`), as y-socket.io's "
            'SocketIOProvider(url, "{session_id}/{path}", doc, {auth: {token}}) speaks it.',
            DOCUMENT_SERVER,
            {
                "session_id": {"description": "the session's id"},
                "path": {"description": "the file's path in the session"},
            },
        ),
    },
    "operations": {
        # AsyncAPI speaks for the server: it receives what clients emit, sends the rest.
        **_operations("root", "receive", ROOT_CLIENT),
        **_operations("root", "send", ROOT_SERVER),
        **_operations("document", "receive", DOCUMENT_CLIENT),
        **_operations("document", "send", DOCUMENT_SERVER),
    },
}
