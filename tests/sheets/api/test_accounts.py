import json

import pytest

from sheets_sync.accounts import CredentialsError, load_accounts

PEM = "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"


def key(email: str, **extra: object) -> dict:
    return {"type": "service_account", "client_email": email, "private_key": PEM, "private_key_id": "k1",
            "token_uri": "http://127.0.0.1:9/token", **extra}


def test_empty_means_no_accounts():
    assert load_accounts("") == []
    assert load_accounts("   ") == []


def test_one_key_as_content():
    (account,) = load_accounts(json.dumps(key("a@p.iam.gserviceaccount.com")))
    assert account.email == "a@p.iam.gserviceaccount.com"
    assert account.info["token_uri"] == "http://127.0.0.1:9/token"


def test_a_list_of_keys_as_content_is_the_pool_in_order():
    accounts = load_accounts(json.dumps([key("a@p"), key("b@p")]))
    assert [a.email for a in accounts] == ["a@p", "b@p"]


def test_paths_separated_by_commas_and_a_file_holding_a_list(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(key("a@p")))
    (tmp_path / "bc.json").write_text(json.dumps([key("b@p"), key("c@p")]))
    accounts = load_accounts(f"{tmp_path / 'a.json'}, {tmp_path / 'bc.json'}")
    assert [a.email for a in accounts] == ["a@p", "b@p", "c@p"]


@pytest.mark.parametrize(("value", "says"), [
    ("{not json", "SHEETS_CREDENTIALS (JSON content) is not valid JSON"),
    ("[]", "empty list"),
    (json.dumps(["a string"]), "key 1 is not a service-account key"),
    (json.dumps({"type": "authorized_user", "client_email": "x"}), "not a service_account key"),
    (json.dumps({"client_email": "a@p"}), "private_key, token_uri missing"),
    (json.dumps(key("a@p", private_key="not a pem")), "private_key is not a PEM private key"),
    (json.dumps(key("a@p", token_uri="ftp://x")), "token_uri"),
    (json.dumps([key("a@p"), key("a@p")]), "lists the service account a@p twice"),
    ("/nonexistent/key.json", "names the key file '/nonexistent/key.json', which cannot be read"),
])
def test_malformed_credentials_give_one_clear_error_naming_the_variable(value, says):
    with pytest.raises(CredentialsError) as caught:
        load_accounts(value)
    assert "SHEETS_CREDENTIALS" in str(caught.value)
    assert says in str(caught.value)


def test_a_malformed_key_file_is_named(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{")
    with pytest.raises(CredentialsError, match=r"SHEETS_CREDENTIALS file '.*broken.json' is not valid JSON"):
        load_accounts(str(path))
