def test_home_is_clean_in_russian(make_check):
    check = make_check(lang="ru")
    response = check.goto("/")
    assert response.status == 200
    assert check.page.locator("html").get_attribute("lang") == "ru"
    check.assert_clean()
