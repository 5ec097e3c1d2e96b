"""A tfds dataset defined in a package, as tfds's own builders and a user's are."""
