"""The model: units, constants, loss laws, hardware, costs and finance. Pure functions and
frozen values; no file is read here."""
