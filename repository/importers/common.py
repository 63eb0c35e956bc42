"""What the importers share."""

from django.core.validators import URLValidator

# A source or reference link: an http(s) address (raises ValidationError otherwise).
validate_web_address = URLValidator(schemes=["http", "https"])
