"""A DingTalk HTTP callback receiver that decrypts and answers as DingTalk's own DingCallbackCrypto3.py does.

Run by crates/server/tests/api/dingtalk_events.rs:

    python3 dingtalk_callback_receiver.py TOKEN AES_KEY OWNER_KEY WRONG_ANSWERS

It listens on 127.0.0.1 (a free port, printed first as {"port": N}) and, for every POST, verifies
msg_signature = sha1(sorted(token, timestamp, nonce, encrypt)) from the query, decrypts the body's
"encrypt" (AES-256-CBC, key = base64(AES_KEY + "="), IV = its first 16 bytes, PKCS#7 to 32 bytes,
random(16) + length(4, big-endian) + message + owner key) and prints one JSON line:
{"query": {...}, "verified": true|false, "owner": "...", "message": {...} or "text"}. It answers DingTalk's
encrypted "success" ({"msg_signature", "timeStamp", "nonce", "encrypt"}), except that the first
WRONG_ANSWERS callbacks other than check_url get a plain {"errcode": 0} (which DingTalk does not accept).
A message it cannot verify or open gets HTTP 400.

The crypto is DingCallbackCrypto3.py's, with the `cryptography` package (installed with
alibabacloud-dingtalk) in place of pycryptodome.
"""

import base64
import hashlib
import json
import os
import string
import struct
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class DingCallbackCrypto3:
    def __init__(self, token, encodingAesKey, key):
        self.encodingAesKey = encodingAesKey
        self.key = key
        self.token = token
        self.aesKey = base64.b64decode(self.encodingAesKey + "=")

    def encrypt(self, content):
        msg_len = self.length(content)
        content = self.generateRandomKey(16) + msg_len.decode() + content + self.key
        contentEncode = self.pks7encode(content)
        cipher = Cipher(algorithms.AES(self.aesKey), modes.CBC(self.aesKey[:16])).encryptor()
        encrypted = cipher.update(contentEncode.encode("utf-8")) + cipher.finalize()
        return base64.encodebytes(encrypted).decode().replace("\n", "")

    def decrypt(self, content):
        cipher = Cipher(algorithms.AES(self.aesKey), modes.CBC(self.aesKey[:16])).decryptor()
        decrypted = cipher.update(base64.decodebytes(content.encode())) + cipher.finalize()
        pad = decrypted[-1]
        decrypted = decrypted[:-pad]
        (length,) = struct.unpack("!i", decrypted[16:20])
        message = decrypted[20 : 20 + length].decode("utf-8")
        owner = decrypted[20 + length :].decode("utf-8")
        if owner != self.key:
            raise ValueError("the message is for another key: " + owner)
        return message

    def getEncryptedMap(self, content):
        encryptContent = self.encrypt(content)
        timeStamp = str(int(time.time() * 1000))
        nonce = self.generateRandomKey(16)
        sign = self.generateSignature(nonce, timeStamp, self.token, encryptContent)
        return {"msg_signature": sign, "encrypt": encryptContent, "timeStamp": timeStamp, "nonce": nonce}

    def getDecryptMsg(self, msg_signature, timeStamp, nonce, content):
        sign = self.generateSignature(nonce, timeStamp, self.token, content)
        if msg_signature != sign:
            raise ValueError("signature check error")
        return self.decrypt(content)

    def generateRandomKey(self, size, chars=string.ascii_letters + string.ascii_lowercase + string.ascii_uppercase + string.digits):
        return "".join(chars[b % len(chars)] for b in os.urandom(size))

    def pks7encode(self, content):
        length = len(content.encode("utf-8"))
        amountToPad = 32 - (length % 32)
        return content + chr(amountToPad) * amountToPad

    def length(self, content):
        # DingCallbackCrypto3 packs the length of the characters; the messages here are ASCII JSON.
        return struct.pack(">I", len(content.encode("utf-8")))

    def generateSignature(self, nonce, timestamp, token, msg_encrypt):
        signList = "".join(sorted([nonce, timestamp, token, msg_encrypt])).encode()
        return hashlib.sha1(signList).hexdigest()


def main():
    token, aes_key, owner_key = sys.argv[1], sys.argv[2], sys.argv[3]
    wrong = [int(sys.argv[4]) if len(sys.argv) > 4 else 0]
    crypto = DingCallbackCrypto3(token, aes_key, owner_key)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(self.path).query))
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            line = {"query": query, "verified": False}
            try:
                text = crypto.getDecryptMsg(query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", ""), body.get("encrypt", ""))
                line["verified"] = True
                try:
                    line["message"] = json.loads(text)
                except ValueError:
                    line["message"] = text
            except Exception as error:  # noqa: BLE001 - every failure is a refusal here
                line["error"] = str(error)
                print(json.dumps(line), flush=True)
                self.answer(400, {"errcode": 1, "errmsg": str(error)})
                return
            print(json.dumps(line), flush=True)
            is_check = isinstance(line["message"], dict) and line["message"].get("EventType") == "check_url"
            if not is_check and wrong[0] > 0:
                wrong[0] -= 1
                self.answer(200, {"errcode": 0})
                return
            self.answer(200, crypto.getEncryptedMap("success"))

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
