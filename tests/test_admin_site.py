import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_the_admin_names_the_product_and_links_nowhere_that_404s(client):
    staff = get_user_model().objects.create_superuser("boss", password="pw-for-tests-only")
    client.force_login(staff)

    page = client.get("/admin/").content.decode()

    assert "WeChat CMS" in page
    assert "Django administration" not in page
    assert "View site" not in page
    # Chinese titles render with a CJK font where one is installed: the theme's styles plus ours.
    assert "/static/unfold/css/styles.css" in page
    assert "/static/staff_home/admin.css" in page
    assert "Noto Sans CJK SC" in open(finders.find("staff_home/admin.css"), encoding="utf-8").read()
