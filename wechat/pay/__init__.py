"""WeChat Pay: the payment gateway and the v2 signature (the only code talking to WeChat Pay)."""
