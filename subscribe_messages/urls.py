from django.urls import path

from subscribe_messages.apis import SubscriptionsApi

urlpatterns = [path("subscriptions", SubscriptionsApi.as_view(), name="subscriptions")]
