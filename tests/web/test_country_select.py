"""One country select for registration, profile and report filters: names in, codes out."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from ecampus.accounts.models import Role
from tests import factories
from tests.web.test_pages import csrf, login


def country_select(html: str, select_id: str) -> str:
    match = re.search(rf'<select id="{select_id}" name="country"[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no country select #{select_id}"
    return match.group(1)


def groups(select: str) -> list[tuple[str, list[tuple[str, str]]]]:
    return [
        (label, re.findall(r'<option value="([A-Z]{2})"[^>]*>([^<]+)</option>', body))
        for label, body in re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select, re.S)
    ]


def selected(select: str) -> list[str]:
    return re.findall(r'<option value="([A-Z]*)" selected>', select)


def test_register_page_offers_nearby_countries_first_then_all_in_spanish(
    client: TestClient,
) -> None:
    page = client.get("/register", headers={"accept-language": "es"}).text
    assert '<label for="f-country">País</label>' in page
    select = country_select(page, "f-country")
    assert select.lstrip().startswith('<option value="">Elija…</option>')
    (near_label, near), (all_label, everyone) = groups(select)
    assert near_label == "Centroamérica y México"
    assert near == [("GT", "Guatemala"), ("SV", "El Salvador"), ("HN", "Honduras"),
                    ("NI", "Nicaragua"), ("CR", "Costa Rica"), ("PA", "Panamá"),
                    ("BZ", "Belice"), ("MX", "México")]  # fmt: skip
    assert all_label == "Todos los países"
    names = [name for _code, name in everyone]
    assert len(everyone) == 249
    assert names.index("México") < names.index("Mónaco") < names.index("Myanmar (Birmania)")
    assert names.index("Bélgica") < names.index("Bután")
    assert {"Canarias", "Diego García", "Kosovo"}.isdisjoint(names)


def test_register_page_in_english(client: TestClient) -> None:
    page = client.get("/register", headers={"accept-language": "en"}).text
    (near_label, near), (all_label, everyone) = groups(country_select(page, "f-country"))
    assert (near_label, all_label) == ("Central America and Mexico", "All countries")
    assert near[-1] == ("MX", "Mexico")
    names = [name for _code, name in everyone]
    assert names.index("Belgium") < names.index("Belize") < names.index("Bhutan")
    assert names.index("Mexico") < names.index("Monaco") < names.index("Myanmar (Burma)")


def test_registration_keeps_the_chosen_country_and_refuses_a_made_up_one(
    client: TestClient,
) -> None:
    token = csrf(client.get("/register").text)
    data = factories.profile(country="ZZ")
    refused = client.post("/register", data={**data, "csrf_token": token},
                          headers={"accept-language": "es"})  # fmt: skip
    assert refused.status_code == 422
    assert "Elija su país de la lista." in refused.text
    assert selected(country_select(refused.text, "f-country")) == []
    # What the select sends for "Honduras" is its code.
    created = client.post("/register", data={**data, "country": "HN", "csrf_token": token},
                          follow_redirects=False)  # fmt: skip
    assert created.status_code == 303
    profile = client.get("/profile", headers={"accept-language": "es"}).text
    select = country_select(profile, "f-country")
    assert selected(select) == ["HN"]  # once, in the first group
    assert '<option value="HN" selected>Honduras</option>' in select


def test_profile_changes_country_by_name_and_refuses_a_bad_code(client: TestClient) -> None:
    data = factories.register(client, country="GT")
    login(client, data["email"], data["password"])
    page = client.get("/profile").text
    fields = {"full_name": data["full_name"], "institution": "", "institution_type": "academia",
              "language": "es", "csrf_token": csrf(page)}  # fmt: skip
    bad = client.post("/profile", data={**fields, "country": "Ho"})
    assert bad.status_code == 422
    assert 'aria-invalid="true" ' in bad.text or 'aria-invalid="true">' in bad.text
    saved = client.post("/profile", data={**fields, "country": "DE"}, follow_redirects=False)
    assert saved.status_code == 303
    english = client.get("/profile?lang=en").text
    assert '<option value="DE" selected>Germany</option>' in country_select(english, "f-country")
    me = client.get("/api/v1/reports/completions")  # a learner cannot read reports
    assert me.status_code == 403


def test_api_takes_and_returns_codes_and_explains_a_bad_one(client: TestClient) -> None:
    created = client.post("/api/v1/auth/register", json=factories.profile(country="sv"))
    assert created.status_code == 201
    assert created.json()["country"] == "SV"
    for bad in ("XK", "IC", "Honduras", "Ho", ""):
        refused = client.post("/api/v1/auth/register", json=factories.profile(country=bad))
        assert refused.status_code == 422, bad
        assert "ISO 3166-1 alpha-2" in str(refused.json()["detail"])


def test_report_filter_is_a_select_of_names_and_filters_by_code(client: TestClient) -> None:
    honduran, _auth = factories.learner(client, country="HN")
    salvadoran, _auth = factories.learner(client, country="SV")
    for person in (honduran, salvadoran):
        login(client, person["email"], person["password"])
        client.post("/courses/demo-course/enroll",
                    data={"csrf_token": csrf(client.get("/courses/demo-course").text)})  # fmt: skip
        client.cookies.clear()
    coordinator = factories.profile()
    headers = factories.staff(client, Role.coordinator, **coordinator)
    login(client, coordinator["email"], coordinator["password"])

    everyone = client.get("/coordinator", headers={"accept-language": "es"})
    assert '<label for="r-country">País</label>' in everyone.text
    select = country_select(everyone.text, "r-country")
    assert select.lstrip().startswith('<option value="">Todos</option>')
    assert selected(select) == []
    assert "<td>Honduras</td>" in everyone.text
    assert "<td>El Salvador</td>" in everyone.text

    # Choosing "Honduras" sends HN: the page keeps the choice and lists only Hondurans.
    filtered = client.get("/coordinator?country=HN", headers={"accept-language": "es"}).text
    assert selected(country_select(filtered, "r-country")) == ["HN"]
    assert honduran["email"] in filtered
    assert salvadoran["email"] not in filtered
    assert "<td>Honduras</td>" in filtered
    assert "country=HN" in filtered  # the download links carry the filter
    english = client.get("/coordinator?country=sv", headers={"accept-language": "en"}).text
    assert salvadoran["email"] in english
    assert honduran["email"] not in english

    # The API keeps codes, and a name or a cut-off name is refused, not silently empty.
    rows = client.get("/api/v1/reports/completions", params={"country": "hn"}, headers=headers)
    assert [r["country"] for r in rows.json()] == ["HN"]
    for bad in ("Ho", "Honduras", "XK"):
        refused = client.get("/api/v1/reports/completions", params={"country": bad},
                             headers=headers)  # fmt: skip
        assert refused.status_code == 422
        assert "ISO 3166-1 alpha-2" in refused.json()["detail"]
    assert client.get("/coordinator?country=Ho").status_code == 422
