"""Login-free sign-in (免登) driven by DingTalk's official Python SDK (alibabacloud-dingtalk 2.2.65, installed
by .ci/run), changing nothing but the endpoint: an authCode from Tenon's /oauth2/authorize becomes a user
access token (oauth2_1_0 GetUserToken), which reads the signed-in user (contact_1_0 GetUser "me"); the
refresh token gives a new pair; the spent code is refused with DingTalk's error shape. Prints one JSON line
per step; exits non-zero on any failure, including a wrong JSON type in an answer.

Usage: dingtalk_signin_client.py HOST:PORT APP_KEY APP_SECRET AUTH_CODE
"""

import json
import sys

from alibabacloud_dingtalk.contact_1_0 import models as contact_models
from alibabacloud_dingtalk.contact_1_0.client import Client as ContactClient
from alibabacloud_dingtalk.oauth2_1_0 import models as oauth_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuthClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from Tea.exceptions import TeaException


def step(name, **fields):
    print(json.dumps({"step": name, **fields}), flush=True)


def expect_type(name, value, kind):
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise SystemExit(f"{name}: expected {kind.__name__}, got {value!r}")


def main():
    endpoint, key, secret, code = sys.argv[1:5]
    config = open_api_models.Config(endpoint=endpoint, protocol="http")
    oauth = OAuthClient(config)
    contact = ContactClient(config)

    token = oauth.get_user_token(
        oauth_models.GetUserTokenRequest(client_id=key, client_secret=secret, code=code, grant_type="authorization_code")
    ).body
    raw = token.to_map()
    expect_type("accessToken", token.access_token, str)
    expect_type("refreshToken", token.refresh_token, str)
    expect_type("expireIn", token.expire_in, int)
    expect_type("corpId", token.corp_id, str)
    step("userToken", expire_in=token.expire_in, corp_id=token.corp_id, keys=sorted(raw.keys()))

    headers = contact_models.GetUserHeaders()
    headers.x_acs_dingtalk_access_token = token.access_token
    me = contact.get_user_with_options("me", headers, util_models.RuntimeOptions()).body
    expect_type("nick", me.nick, str)
    expect_type("unionId", me.union_id, str)
    step("me", nick=me.nick, union_id=me.union_id, open_id=me.open_id, mobile=me.mobile, state_code=me.state_code)

    refreshed = oauth.get_user_token(
        oauth_models.GetUserTokenRequest(
            client_id=key, client_secret=secret, refresh_token=token.refresh_token, grant_type="refresh_token"
        )
    ).body
    expect_type("accessToken", refreshed.access_token, str)
    step("refreshed", new_token=refreshed.access_token != token.access_token)

    try:
        oauth.get_user_token(
            oauth_models.GetUserTokenRequest(client_id=key, client_secret=secret, code=code, grant_type="authorization_code")
        )
        raise SystemExit("a spent code was accepted")
    except TeaException as error:
        step("spentCode", code=error.code, status=(error.data or {}).get("statusCode"))


if __name__ == "__main__":
    main()
