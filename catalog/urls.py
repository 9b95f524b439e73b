from django.urls import path

from catalog.apis import CategoryTreeApi, ProductDetailApi, ProductListApi

urlpatterns = [
    path("categories", CategoryTreeApi.as_view(), name="catalog-categories"),
    path("products", ProductListApi.as_view(), name="catalog-products"),
    path("products/<int:product_id>", ProductDetailApi.as_view(), name="catalog-product"),
]
