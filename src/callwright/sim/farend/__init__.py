"""The far end of simulated outbound calls, one module per carrier (see ``base.FarEnd``)."""
