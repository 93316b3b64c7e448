# The enterprises texts (Chinese); ids shared with ../en/enterprises.ftl.

enterprises-group = 分组
enterprises-filed = 备案企业
enterprises-resumed = 已复工
enterprises-rate = 复工率
enterprises-workers-back = 返岗人数
enterprises-by-district = 按区县
enterprises-by-industry = 按行业
enterprises-filings = 备案
enterprises-workers = 人
enterprises-measures = 防控措施
enterprises-approve = 通过
enterprises-return = 退回
enterprises-resumption-filings = 复工备案
enterprises-resumption-rate = 复工率 { $rate }（已复工 { $resumed } 家 / 备案 { $filed } 家）
