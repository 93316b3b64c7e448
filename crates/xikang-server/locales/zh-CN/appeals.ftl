# The appeals texts (Chinese); ids shared with ../en/appeals.ftl.

appeals-answers-are-recorded-in-the-audit = 答复将记入审计日志。答复不改变码色：如核实有误，请更正相应事实（如在流调页面解除密接判定），码色随之改变。
appeals-send-the-answer = 提交答复
appeals-appeals = 申诉处理
appeals-open-count = 待答复申诉 { $n } 件。
