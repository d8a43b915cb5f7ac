"""Host-free core of LRDM: layouts, attention maps, vision guidance, layered composition."""
