from django.urls import reverse


def test_login_page_in_russian_from_the_browser(client, db):
    response = client.get(reverse("portal:login"), HTTP_ACCEPT_LANGUAGE="ru")
    html = response.content.decode()
    assert '<html lang="ru">' in html
    assert "Забыли пароль?" in html


def test_login_page_in_english_by_default(client, db):
    response = client.get(reverse("portal:login"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Forgot your password?" in response.content.decode()


def test_users_choice_beats_the_browser(login, world):
    client = login(world.owner_a)
    response = client.post(
        reverse("set_language"), {"language": "ru", "next": reverse("portal:team")}
    )
    assert response.status_code == 302
    response = client.get(reverse("portal:team"), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert "Пригласить" in html  # "Invite"
    assert "Владелец" in html  # the owner role's label


def test_dashboard_in_russian(login, world):
    response = login(world.owner_a).get(reverse("portal:dashboard"), HTTP_ACCEPT_LANGUAGE="ru")
    html = response.content.decode()
    assert "Расходы" in html  # "Costs" in the navigation
