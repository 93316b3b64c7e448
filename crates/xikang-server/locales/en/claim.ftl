# The claim texts (English); ids shared with ../zh-CN/claim.ftl.

claim-enter-the-id-number-name-and-phone = Enter the ID number, name and phone number the register holds; a code goes to the registered phone.
claim-id-number = ID number
claim-phone = Phone
claim-send-me-a-code = Send me a code
claim-if-the-details-match-the-register-a = If the details match the register, a code was sent to the registered phone; it is valid for a few minutes.
claim-code-6-digits = Code (6 digits)
claim-get-my-code = Get my code
claim-start-again = Start again
claim-claim-your-code = Claim your code
claim-codes-i-hold-for-dependants = Codes I hold for dependants
claim-none = None
claim-claim-for-a-family-member-without-a = Claim for a family member without a phone (at most 5)
claim-relation = Relation
claim-claim = Claim
claim-revoked = Revoked
claim-identity-card-qr = Identity card QR
claim-holder = Holder
claim-card = Card
claim-xikang-identity-card-it-shows-no = xikang identity card: it shows no colour. A venue's scanner looks up today's colour online. Report a lost card to your community to revoke it.
claim-identity-card = Identity card
