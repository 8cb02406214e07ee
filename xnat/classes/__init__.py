"""Python classes for the server's data types: built with ``type()`` from the schema model
(:mod:`.factory`), typed field descriptors (:mod:`.properties`), the minimal base object
(:mod:`.base`) and hand-written behaviour chosen by xsi type (:mod:`.registry`)."""
