# The enterprises texts (English); ids shared with ../zh-CN/enterprises.ftl.

enterprises-group = Group
enterprises-filed = Filed
enterprises-resumed = Resumed
enterprises-rate = Rate
enterprises-workers-back = Workers back
enterprises-by-district = By district
enterprises-by-industry = By industry
enterprises-filings = Filings
enterprises-workers = workers
enterprises-measures = Measures
enterprises-approve = Approve
enterprises-return = Return
enterprises-resumption-filings = Resumption filings
enterprises-resumption-rate = Resumption rate { $rate } ({ $resumed } of { $filed } enterprises that filed)
