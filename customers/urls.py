from django.urls import path

from customers.apis import LoginApi, MeApi

urlpatterns = [
    path("auth/login", LoginApi.as_view(), name="auth-login"),
    path("me", MeApi.as_view(), name="me"),
]
