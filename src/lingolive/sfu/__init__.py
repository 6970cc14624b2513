"""The Janus client: how LingoLive talks to a Janus WebRTC server (issue 15, SFU mode).

In SFU mode the people of a meeting do not connect to LingoLive: they join a room of a
Janus VideoRoom (any Janus client, e.g. ``janus.js``), and LingoLive joins the same room as
one more participant. This package is only the talking to Janus, and knows nothing of
LingoLive's rooms, pipeline or wire protocol (the rooms built on it are in ``rooms/``:
``rooms.janus`` and ``rooms.janus_translator``):

- ``janus_api``: an asyncio client of Janus's WebSocket API (sessions, plugin handles,
  transactions, events) and the VideoRoom requests LingoLive uses (rooms, publishing,
  multistream subscriptions);
- ``sdp``: aiortc session descriptions ↔ Janus JSEP;
- ``displays``: the naming contract of a Janus room (``"Alice [en]"``, ``"LingoLive · es"``).
"""
