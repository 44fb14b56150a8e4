"""Drives Tenon's DingTalk-compatible API with DingTalk's official Python SDK (alibabacloud-dingtalk
2.2.65, installed by .ci/run), changing nothing but the endpoint. The SDK covers the v1.0 family only; the
oapi family (`topapi/*`) is plain HTTP, called here with urllib as DingTalk's own samples do, with the
token the SDK got. Prints one JSON line per step; exits non-zero on any failure, including a wrong JSON
type in an answer.

Usage: dingtalk_api_client.py HOST:PORT APP_KEY APP_SECRET CORP_ID QUERY_WORD
"""

import json
import sys
import urllib.parse
import urllib.request

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


def oapi(endpoint, token, path, body, form=False):
    """POSTs to an oapi path (?access_token=) and returns the answer; fails unless HTTP 200 with errcode 0."""
    url = f"http://{endpoint}{path}?access_token={urllib.parse.quote(token)}"
    if form:
        data = urllib.parse.urlencode(body).encode()
        kind = "application/x-www-form-urlencoded"
    else:
        data = json.dumps(body).encode()
        kind = "application/json"
    request = urllib.request.Request(url, data=data, headers={"Content-Type": kind}, method="POST")
    with urllib.request.urlopen(request) as response:
        if response.status != 200:
            raise SystemExit(f"{path}: HTTP {response.status}")
        answer = json.loads(response.read())
    expect_type(f"{path} errcode", answer.get("errcode"), int)
    if answer["errcode"] != 0:
        raise SystemExit(f"{path}: {answer}")
    expect_type(f"{path} request_id", answer.get("request_id"), str)
    return answer


def directory(endpoint, token):
    """Departments and users created, listed with cursors and deleted over oapi."""
    created = oapi(endpoint, token, "/topapi/v2/department/create", {"name": "SDK Sales", "parent_id": 1})
    dept_id = created["result"]["dept_id"]
    expect_type("dept_id", dept_id, int)
    step("departmentCreate", dept_id=dept_id)

    userids = []
    for index, name in enumerate(["SDK One", "SDK Two", "SDK Three"]):
        body = {"name": name, "mobile": f"1380000100{index}", "dept_id_list": str(dept_id)}
        if index == 0:
            body["userid"] = "sdk.one"
        answer = oapi(endpoint, token, "/topapi/v2/user/create", body, form=index == 2)
        expect_type("userid", answer["result"]["userid"], str)
        expect_type("unionId", answer["result"]["unionId"], str)
        userids.append(answer["result"]["userid"])
    step("userCreate", userids=userids)

    got = oapi(endpoint, token, "/topapi/v2/user/get", {"userid": "sdk.one"})["result"]
    expect_type("dept_id_list", got["dept_id_list"], list)
    for item in got["dept_id_list"]:
        expect_type("dept_id_list item", item, int)
    for key in ["active", "admin", "boss", "hide_mobile"]:
        expect_type(key, got[key], bool)
    step("userGet", userid=got["userid"], dept_id_list=got["dept_id_list"], active=got["active"])

    listed, cursor, pages = [], 0, 0
    while True:
        page = oapi(endpoint, token, "/topapi/v2/user/list", {"dept_id": dept_id, "cursor": cursor, "size": 2})["result"]
        expect_type("has_more", page["has_more"], bool)
        listed += [user["userid"] for user in page["list"]]
        pages += 1
        if not page["has_more"]:
            break
        expect_type("next_cursor", page["next_cursor"], int)
        cursor = page["next_cursor"]
    step("userList", userids=listed, pages=pages)

    found = oapi(endpoint, token, "/topapi/v2/user/getbymobile", {"mobile": "13800001001"})["result"]
    step("userGetByMobile", userid=found["userid"])

    for userid in userids:
        oapi(endpoint, token, "/topapi/v2/user/delete", {"userid": userid})
    oapi(endpoint, token, "/topapi/v2/department/delete", {"dept_id": dept_id})
    remaining = oapi(endpoint, token, "/topapi/v2/department/listsub", {"dept_id": 1})["result"]
    step("deleted", remaining=[dept["dept_id"] for dept in remaining])


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

    directory(endpoint, answer.body.access_token)

    try:
        oauth.get_access_token(oauth_models.GetAccessTokenRequest(app_key=key, app_secret="wrong"))
        raise SystemExit("a wrong secret got a token")
    except TeaException as error:
        step("wrongSecret", code=error.code, status=(error.data or {}).get("statusCode"), message=error.message)


if __name__ == "__main__":
    main()
