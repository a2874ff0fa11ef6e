"""Lead intelligence: the pickup model (:mod:`dialer.leads.pickup`) and lead selection and
retry timing (:mod:`dialer.leads.select`). Pure cores: no asyncio, I/O or clock."""
