"""Pure rules with no framework imports: providers, phone numbers, masking, keys, errors."""
