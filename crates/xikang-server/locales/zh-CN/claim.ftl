# The claim texts (Chinese); ids shared with ../en/claim.ftl.

claim-enter-the-id-number-name-and-phone = 填写登记的身份证号码、姓名和手机号码，验证码将发送到登记的手机。
claim-id-number = 身份证号码
claim-phone = 手机号码
claim-send-me-a-code = 获取验证码
claim-if-the-details-match-the-register-a = 如信息与登记一致，验证码已发送到登记的手机，几分钟内有效。
claim-code-6-digits = 验证码（6 位数字）
claim-get-my-code = 领取我的锡康码
claim-start-again = 重新申领
claim-claim-your-code = 申领锡康码
claim-codes-i-hold-for-dependants = 代领的锡康码
claim-none = 暂无
claim-claim-for-a-family-member-without-a = 为没有手机的家人代领（至多 5 人）
claim-relation = 关系
claim-claim = 代领
claim-revoked = 已作废
claim-identity-card-qr = 身份卡二维码
claim-holder = 持卡人
claim-card = 卡号
claim-xikang-identity-card-it-shows-no = 锡康身份卡：不显示颜色。场所扫码后联网查询当日健康码颜色。遗失请告知社区作废。
claim-identity-card = 锡康身份卡
