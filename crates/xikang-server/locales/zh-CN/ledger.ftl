# The ledger texts (Chinese); ids shared with ../en/ledger.ftl.

ledger-colour-ledger-today = 今日转红转黄台账
ledger-alarm-colour-changes-without-a-case = 警报：无病例关联的赋码人数超过政策阈值
ledger-turned-red = 转红
ledger-turned-yellow = 转黄
ledger-without-a-case-link = 无病例关联
ledger-threshold = 阈值
ledger-no-colour-changes-today = 今日无赋码
ledger-basis = 依据
ledger-decided-by = 决定者
ledger-colour = 颜色
ledger-people = 人数
