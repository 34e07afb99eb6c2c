def test_smoke(client, world):
    r = client.get("/admin/v1/accounts", headers=world.headers("admin_a"))
    assert r.status_code == 200, r.text
    emails = {a["email"] for a in r.json()["items"]}
    print(emails)
    r = client.get("/admin/v1/openapi.json")
    assert r.status_code == 200
