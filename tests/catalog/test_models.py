import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError

from catalog.models import Sku
from tests.factories import CategoryFactory, ProductFactory, SkuFactory

pytestmark = pytest.mark.django_db


def test_database_refuses_negative_stock():
    with pytest.raises(IntegrityError), transaction.atomic():
        SkuFactory(stock=-1)


def test_database_refuses_a_decrement_below_zero():
    # The shape of the order service's decrement: the constraint is the last line of defence.
    sku = SkuFactory(stock=3)

    with pytest.raises(IntegrityError), transaction.atomic():
        Sku.objects.filter(pk=sku.pk).update(stock=F("stock") - 5)

    sku.refresh_from_db()
    assert sku.stock == 3


def test_conditional_decrement_takes_stock_only_when_enough_is_left():
    sku = SkuFactory(stock=3)

    assert Sku.objects.filter(pk=sku.pk, stock__gte=5).update(stock=F("stock") - 5) == 0
    assert Sku.objects.filter(pk=sku.pk, stock__gte=3).update(stock=F("stock") - 3) == 1

    sku.refresh_from_db()
    assert sku.stock == 0


def test_database_refuses_negative_price():
    with pytest.raises(IntegrityError), transaction.atomic():
        SkuFactory(price_fen=-1)


def test_database_refuses_a_duplicate_sku_code():
    SkuFactory(code="MUG-350-WHITE")

    with pytest.raises(IntegrityError), transaction.atomic():
        SkuFactory(code="MUG-350-WHITE")


def test_model_validation_explains_negative_stock():
    sku = Sku(product=ProductFactory(), code="MUG-1", price_fen=100, stock=-2)

    with pytest.raises(ValidationError) as refused:
        sku.full_clean()

    assert refused.value.messages == ["Stock cannot be negative."]


def test_a_category_with_products_cannot_be_deleted():
    category = CategoryFactory()
    ProductFactory(category=category)

    with pytest.raises(ProtectedError):
        category.delete()


def test_deleting_a_product_deletes_its_skus():
    sku = SkuFactory()

    sku.product.delete()

    assert not Sku.objects.exists()


@pytest.mark.parametrize("specs", [["white"], {"size": 350}, "white"])
def test_specs_must_map_names_to_text(specs):
    sku = Sku(product=ProductFactory(), code="MUG-1", price_fen=100, specs=specs)

    with pytest.raises(ValidationError) as refused:
        sku.full_clean()

    assert refused.value.message_dict == {
        "specs": ['Specs must be a JSON object of names to text, e.g. {"color": "white"}.']
    }
