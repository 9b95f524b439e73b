"""Request headers for tests written against the API's English messages (the API answers Chinese by default)."""

ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}
