# The enterprise texts (Chinese); ids shared with ../en/enterprise.ftl.

enterprise-green = 绿码
enterprise-yellow = 黄码
enterprise-red = 红码
enterprise-unified-social-credit-code = 统一社会信用代码：
enterprise-filings-to-resume-work = 复工备案
enterprise-filed = 时间
enterprise-workers = 职工
enterprise-green-today = 今日绿码
enterprise-approved = 已通过
enterprise-returned = 已退回
enterprise-pending = 待审核
enterprise-supply-demand-board = 企业供需对接
enterprise-offer = 供应
enterprise-need = 需求
enterprise-close = 关闭
enterprise-item = 物品
enterprise-quantity = 数量
enterprise-post = 发布
enterprise-valid-until = 有效至
