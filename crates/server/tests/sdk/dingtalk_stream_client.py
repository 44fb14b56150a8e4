"""A stream client built on the official dingtalk-stream SDK, unchanged but for DINGTALK_OPENAPI_ENDPOINT.

Run by crates/server/tests/api/stream_sdk.rs:

    DINGTALK_OPENAPI_ENDPOINT=http://127.0.0.1:PORT python3 dingtalk_stream_client.py CLIENT_ID SECRET MODE [N]

Prints one JSON line per event it receives (with its headers' ids and type and its parsed "data"):
{"acked": {...}} when it acknowledges the event,
{"holding": {...}} when it will not. MODE "crash" acknowledges the first N events, holds every later one
unacknowledged, and on a line "crash" on stdin exits at once (os._exit, no goodbye to the server).
MODE "ack" acknowledges everything until it is killed.
"""

import asyncio
import json
import os
import sys

import dingtalk_stream


class Recorder(dingtalk_stream.EventHandler):
    def __init__(self, mode, acks_before_crash):
        super().__init__()
        self.mode = mode
        self.acks_before_crash = acks_before_crash
        self.acked = 0

    async def process(self, event: dingtalk_stream.EventMessage):
        envelope = event.data
        line = {
            "event_id": event.headers.event_id,
            "event_type": event.headers.event_type,
            "message_id": event.headers.message_id,
            "record_id": (envelope.get("subject") or {}).get("record_id"),
            "envelope_id": envelope.get("id"),
            "born": event.headers.event_born_time,
            "data": envelope,
        }
        if self.mode == "crash" and self.acked >= self.acks_before_crash:
            print(json.dumps({"holding": line}), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            os._exit(3)
        self.acked += 1
        print(json.dumps({"acked": line}), flush=True)
        return dingtalk_stream.AckMessage.STATUS_OK, "OK"


def main():
    client_id, client_secret, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    acks_before_crash = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    credential = dingtalk_stream.Credential(client_id, client_secret)
    client = dingtalk_stream.DingTalkStreamClient(credential)
    client.register_all_event_handler(Recorder(mode, acks_before_crash))
    client.start_forever()


if __name__ == "__main__":
    main()
