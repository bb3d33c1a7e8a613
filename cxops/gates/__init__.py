"""Gates: the one seam where a rule that may hold a send back plugs in (see `base`)."""
