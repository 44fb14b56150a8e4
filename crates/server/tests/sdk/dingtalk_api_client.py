"""Drives Tenon's DingTalk-compatible API with DingTalk's official Python SDK (alibabacloud-dingtalk
2.2.65, installed by .ci/run), changing nothing but the endpoint. Prints one JSON line per step; exits
non-zero on any failure, including a wrong JSON type in an answer.

Usage: dingtalk_api_client.py HOST:PORT APP_KEY APP_SECRET CORP_ID QUERY_WORD
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
    endpoint, key, secret, corp_id = sys.argv[1:5]
    config = open_api_models.Config(endpoint=endpoint, protocol="http")
    oauth = OAuthClient(config)

    answer = oauth.get_access_token(oauth_models.GetAccessTokenRequest(app_key=key, app_secret=secret))
    expect_type("accessToken", answer.body.access_token, str)
    expect_type("expireIn", answer.body.expire_in, int)
    step("accessToken", token=answer.body.access_token, expire_in=answer.body.expire_in)

    answer = oauth.get_token(
        corp_id,
        oauth_models.GetTokenRequest(client_id=key, client_secret=secret, grant_type="client_credentials"),
    )
    expect_type("access_token", answer.body.access_token, str)
    expect_type("expires_in", answer.body.expires_in, int)
    step("corpToken", token=answer.body.access_token, expires_in=answer.body.expires_in)

    contact = ContactClient(config)
    headers = contact_models.SearchUserHeaders(x_acs_dingtalk_access_token=answer.body.access_token)
    found = contact.search_user_with_options(
        contact_models.SearchUserRequest(query_word=sys.argv[5], offset=0, size=10),
        headers,
        util_models.RuntimeOptions(),
    )
    expect_type("hasMore", found.body.has_more, bool)
    expect_type("totalCount", found.body.total_count, int)
    expect_type("list", found.body.list, list)
    step("search", has_more=found.body.has_more, total_count=found.body.total_count, list=found.body.list)

    try:
        oauth.get_access_token(oauth_models.GetAccessTokenRequest(app_key=key, app_secret="wrong"))
        raise SystemExit("a wrong secret got a token")
    except TeaException as error:
        step("wrongSecret", code=error.code, status=(error.data or {}).get("statusCode"), message=error.message)


if __name__ == "__main__":
    main()
