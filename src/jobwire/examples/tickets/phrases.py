"""The words the ticket generator assembles: subjects, bodies, side remarks and channel frames.

Placeholders (``{p_reul}``, ``{order}``…) are listed on :class:`generator.Slots`. In each
``BODIES`` list every fourth entry (index 3, 7, 11) is left out of the training set, so the
test files hold wording the model never saw.
"""

from __future__ import annotations

Texts = tuple[str, ...]

SUBJECTS: dict[str, dict[str, Texts]] = {
    "delivery": {
        "ko": (
            "배송 언제 되나요?",
            "주문한 {p} 아직 못 받았어요",
            "배송 조회가 안 돼요",
            "택배가 다른 곳으로 간 것 같아요",
            "배송지 변경 요청",
            "배송 지연 문의",
            "{courier} 송장번호 확인 부탁드립니다",
            "상품 미수령",
            "주문번호 {order} 배송 문의",
            "출고 언제 되나요",
            "아직도 안 왔어요",
        ),
        "en": (
            "Where is my order?",
            "Order {order} not delivered",
            "Tracking number not working",
            "Package went to the wrong address",
            "Change shipping address",
            "Delivery delay",
            "Still waiting for my {p}",
            "Marked as delivered but not received",
            "When will my order ship?",
            "Late parcel",
            "No update on my shipment",
        ),
    },
    "refund": {
        "ko": (
            "환불 요청합니다",
            "환불 언제 들어오나요?",
            "반품했는데 환불이 안 됐어요",
            "주문 취소 후 환불 문의",
            "부분 환불 가능한가요",
            "{p} 반품 및 환불",
            "환불 금액이 달라요",
            "교환 말고 환불로 바꿔주세요",
            "주문 취소 요청",
            "반품 회수 일정 문의",
        ),
        "en": (
            "Refund request",
            "When will I get my refund?",
            "Returned item, no refund yet",
            "Cancel order and refund",
            "Partial refund possible?",
            "Return for {p}",
            "Refund amount is wrong",
            "Refund instead of exchange",
            "Please cancel my order",
            "Return pickup not scheduled",
        ),
    },
    "payment": {
        "ko": (
            "결제 오류",
            "이중 결제된 것 같아요",
            "결제가 안 돼요",
            "카드 승인 문의",
            "무통장입금 확인 요청",
            "할부 변경 가능할까요",
            "영수증 발행 문의",
            "결제 금액이 이상해요",
            "{method} 결제 실패",
            "적립금 사용 문의",
        ),
        "en": (
            "Payment error",
            "Charged twice",
            "Can't complete checkout",
            "Card declined",
            "Bank transfer not confirmed",
            "Change to installments?",
            "Need a receipt / invoice",
            "Wrong amount charged",
            "{method} payment failed",
            "Using store credit at checkout",
        ),
    },
    "account": {
        "ko": (
            "로그인이 안 돼요",
            "비밀번호 재설정 문의",
            "회원 탈퇴 요청",
            "아이디를 잊어버렸어요",
            "인증번호가 안 와요",
            "계정이 잠겼어요",
            "이메일 주소 변경",
            "휴대폰 번호 변경하고 싶어요",
            "다른 사람이 제 계정에 들어온 것 같아요",
            "SNS 계정 연동 문의",
        ),
        "en": (
            "Can't log in",
            "Password reset",
            "Delete my account",
            "Forgot my username",
            "Verification code never arrives",
            "Account locked",
            "Change my email address",
            "Update phone number",
            "Someone accessed my account",
            "Link my Google account",
        ),
    },
    "product_defect": {
        "ko": (
            "제품 불량 문의",
            "{p} 고장",
            "받자마자 작동을 안 해요",
            "파손된 상태로 왔어요",
            "초기 불량 같습니다",
            "A/S 접수하고 싶어요",
            "전원이 안 켜져요",
            "소음이 너무 심해요",
            "구성품이 빠져 있어요",
            "{p} 충전이 안 됩니다",
        ),
        "en": (
            "Defective product",
            "{p} stopped working",
            "Doesn't work out of the box",
            "Arrived damaged",
            "Faulty unit",
            "Warranty repair request",
            "Won't turn on",
            "Very loud noise",
            "Missing parts in the box",
            "{p} not charging",
        ),
    },
    "other": {
        "ko": (
            "문의드립니다",
            "고객센터 운영시간 문의",
            "제휴 제안드립니다",
            "매장 위치 문의",
            "직원분 칭찬합니다",
            "재입고 문의",
            "대량 구매 문의",
            "개인정보 처리방침 질문",
            "이벤트 문의",
            "제품 추천 부탁드려요",
        ),
        "en": (
            "Question",
            "Opening hours",
            "Partnership proposal",
            "Store location",
            "Thank you!",
            "Back in stock?",
            "Bulk order enquiry",
            "Privacy policy question",
            "About your promotion",
            "Product recommendation",
        ),
    },
}

BODIES: dict[str, dict[str, Texts]] = {
    "delivery": {
        "ko": (
            "{date} {p_reul} 주문했는데 아직 배송이 시작되지 않았습니다. 언제쯤 받을 수 있을까요?",
            "배송 조회를 하면 {days}일째 '상품 준비 중'으로만 나와요. 확인 부탁드립니다.",
            "배송 완료 문자를 받았는데 문 앞에 아무것도 없어요. 주문번호는 {order}입니다.",
            "{days}일 전에 주문했는데 아직 출고도 안 됐네요. 도대체 언제 보내주시는 건가요?",
            "주문번호 {order} 건 배송지를 회사로 바꾸고 싶습니다. 출고 전이면 변경 가능할까요?",
            "{courier} 송장번호를 받았는데 조회하면 등록되지 않은 운송장이라고 나옵니다.",
            "{p_ga} 옆 동으로 잘못 배달된 것 같아요. 경비실에도 없습니다.",
            "선물로 보낼 물건인데 아직도 안 왔어요. 주말 전에 받을 수 있게 해주세요.",
            "묶음으로 주문했는데 {p}만 먼저 도착했고 나머지 상품은 소식이 없어요.",
            "오늘 도착 예정이라더니 또 내일로 밀렸습니다. 벌써 세 번째예요.",
            "집에 없어서 경비실에 맡겨달라고 했는데 택배가 반송됐다고 나와요.",
            "해외 직구 주문인데 통관 단계에서 {days}일째 멈춰 있습니다. 언제 풀리나요?",
        ),
        "en": (
            "I ordered the {p} {date} and it still hasn't shipped. When can I expect it?",
            "The tracking page has said 'preparing for shipment' for {days} days now.",
            "I got a text saying my parcel was delivered, but there is nothing at my door. "
            "Order number {order}.",
            "I placed the order {days} days ago and it still hasn't left your warehouse.",
            "Can I change the shipping address for order {order}? I'd like it sent to my office.",
            "The {courier} tracking number you sent me shows as invalid.",
            "My package seems to have gone to the building next door. The concierge doesn't "
            "have it either.",
            "It's a birthday present and it still hasn't come. Can you get it to me before "
            "the weekend?",
            "Only the {p} arrived; the rest of my order is nowhere to be seen.",
            "The estimated delivery keeps moving: it was due today, now it says tomorrow again.",
            "The courier sent my parcel back because I wasn't home to sign for it.",
            "My international order has been stuck in customs for {days} days.",
        ),
    },
    "refund": {
        "ko": (
            "{date} 반품 접수했고 {p}도 회수해 가셨는데 아직 환불이 안 들어왔어요.",
            "주문 취소했는데 {amount} 환불은 언제 처리되나요?",
            "단순 변심으로 {p_reul} 반품하고 싶습니다. 반품비는 얼마인가요?",
            "환불 받은 금액이 {amount}인데 쿠폰 할인분이 빠진 것 같습니다. 확인 부탁드려요.",
            "생각보다 커서 교환 신청했는데 그냥 환불로 바꿔주세요.",
            "{method_ro} 결제했었는데 환불은 어디로 들어오나요?",
            "반품 회수 기사님이 {days}일째 안 오세요. 환불 진행 어떻게 되나요?",
            "주문번호 {order} 전체 취소하고 돈 돌려받고 싶어요.",
            "마음에 안 들어서 돌려보냈는데 검수 중이라는 말만 하시네요.",
            "여러 개 주문한 것 중에 {p}만 취소하고 부분 환불 받을 수 있을까요?",
            "취소 접수한 지 일주일이 넘었는데 카드사에서는 아직 취소 내역이 없대요.",
            "반품 기간이 지났다고 하시는데 수령한 지 닷새밖에 안 됐습니다. 환불 부탁드립니다.",
        ),
        "en": (
            "I returned the {p} {date} and you picked it up, but I still haven't been refunded.",
            "I cancelled my order. When will the {amount} be refunded?",
            "I changed my mind about the {p} and want to return it. How much is return postage?",
            "The refund I got was {amount}, but the coupon discount seems to be missing.",
            "It was bigger than I expected and I asked for an exchange, but please just "
            "refund me instead.",
            "I paid with {method}. Where will the refund go?",
            "Nobody has come to collect the return for {days} days. What happens with my refund?",
            "Please cancel the whole of order {order}, I want my money back.",
            "I sent it back because I didn't like it, and all I hear is that it's 'being "
            "inspected'.",
            "Can I cancel just the {p} from my order and get a partial refund?",
            "It's been over a week since I cancelled and my bank still shows no reversal.",
            "You say the return window has passed, but I received it only five days ago. "
            "Please refund me.",
        ),
    },
    "payment": {
        "ko": (
            "{method_ro} 결제하려고 하는데 계속 '결제 실패'라고 뜹니다.",
            "같은 주문이 두 번 결제됐어요. 카드 내역에 {amount_i} 두 번 찍혀 있습니다.",
            "{date} 무통장입금으로 {amount} 보냈는데 아직 입금 확인이 안 됐다고 나와요.",
            "결제 완료 문자는 왔는데 주문 내역에는 아무것도 없습니다.",
            "법인카드로 결제했는데 세금계산서 발행 부탁드립니다.",
            "{amount} 결제를 3개월 할부로 바꾸고 싶은데 가능할까요?",
            "쿠폰을 적용했는데 결제 금액에 반영이 안 됐어요.",
            "해외에서 발급된 카드는 안 되나요? 승인 거절이 계속 떠요.",
            "휴대폰 소액결제 한도 초과라고 나옵니다. 다른 방법이 있을까요?",
            "적립금이랑 카드를 같이 써서 결제하고 싶은데 방법을 모르겠어요.",
            "결제 단계에서 '잠시 후 다시 시도해 주세요'만 나오고 넘어가지 않습니다.",
            "카드 명세서에 제가 주문한 금액보다 {amount} 더 청구됐어요.",
        ),
        "en": (
            "I keep getting 'payment failed' when I try to pay with {method}.",
            "I was charged twice for the same order: {amount} appears twice on my statement.",
            "I sent {amount} by bank transfer {date} but it still says payment not confirmed.",
            "I got a payment confirmation, but there's nothing in my order history.",
            "I paid with a company card. Could you issue a VAT invoice?",
            "Can I switch the {amount} payment to 3-month installments?",
            "I applied a coupon but the total at checkout didn't change.",
            "Do you not accept cards issued abroad? My card keeps getting declined.",
            "It says I've hit my monthly limit for carrier billing. Is there another way to pay?",
            "I want to pay partly with store credit and partly by card but can't see how.",
            "Checkout just says 'please try again later' and never goes through.",
            "My card statement shows {amount} more than my order total.",
        ),
    },
    "account": {
        "ko": (
            "비밀번호를 여러 번 틀려서 계정이 잠겼습니다. 풀어주실 수 있나요?",
            "비밀번호 재설정 메일이 오지 않아요. 스팸함도 확인했습니다.",
            "휴대폰 번호가 바뀌어서 인증번호를 받을 수가 없어요.",
            "회원 탈퇴하고 싶은데 앱에서 메뉴를 못 찾겠어요. 제 개인정보도 삭제해 주세요.",
            "카카오로 가입했는데 네이버 로그인으로 바꿀 수 있나요?",
            "로그인하면 '존재하지 않는 회원'이라고 나와요. 어제까지는 됐는데요.",
            "제가 하지 않은 로그인 알림이 왔어요. 누가 제 계정에 접속한 것 같습니다.",
            "아이디가 기억이 안 나요. 가입할 때 쓴 이메일은 {email}입니다.",
            "가입 이메일을 {email}로 바꾸고 싶습니다.",
            "앱 업데이트 후에 자동 로그인이 계속 풀려요.",
            "본인인증을 하려는데 '이미 가입된 정보'라고 나옵니다. 저는 가입한 적이 없어요.",
            "2단계 인증을 켜 놨는데 OTP 앱을 지워버렸어요. 어떻게 들어가야 하나요?",
        ),
        "en": (
            "I entered the wrong password too many times and now my account is locked.",
            "The password reset email never arrives. I've checked my spam folder.",
            "I changed my phone number, so I can't receive the verification code.",
            "I want to close my account but can't find the option in the app. Please delete "
            "my personal data too.",
            "I signed up with Kakao. Can I switch to logging in with Google?",
            "When I sign in it says 'member does not exist'. It worked yesterday.",
            "I got a sign-in alert I didn't make. I think someone got into my account.",
            "I can't remember my username. I registered with {email}.",
            "Please change the email on my profile to {email}.",
            "Since the app update I keep getting logged out.",
            "Identity verification says my details are 'already registered', but I never "
            "signed up.",
            "I turned on two-factor authentication and then deleted my authenticator app. "
            "How do I get back in?",
        ),
    },
    "product_defect": {
        "ko": (
            "{date} 받은 {p_ga} 전원이 아예 안 켜집니다.",
            "{p_reul} 개봉해보니 케이스에 금이 가 있었어요. 사진 첨부합니다.",
            "사용한 지 {days}일 만에 {p}에서 이상한 소리가 나기 시작했어요.",
            "충전기를 꽂아도 충전이 안 됩니다. 다른 케이블로도 해봤어요.",
            "구성품 중에 설명서랑 어댑터가 빠져 있었습니다.",
            "{p} 버튼이 눌리지 않고 불빛만 계속 깜빡입니다. 초기 불량 같아요.",
            "박스는 멀쩡한데 안에 있던 {p_ga} 찌그러져 있어요.",
            "{p}에서 물이 새서 바닥이 다 젖었어요. 안전 문제 아닌가요?",
            "사용 중에 {p}에서 타는 냄새가 났어요. 무서워서 못 쓰겠습니다.",
            "한 달도 안 썼는데 {p_ga} 멈췄어요. 무상 수리 되나요?",
            "블루투스 연결이 자꾸 끊기고 재부팅해도 똑같아요.",
            "{p} 표면 도장이 벗겨지고 이음새가 벌어져 있습니다.",
        ),
        "en": (
            "The {p} I received {date} won't power on at all.",
            "When I opened the {p} the casing was cracked. Photos attached.",
            "After {days} days of use the {p} started making a strange grinding noise.",
            "It doesn't charge even when plugged in. I tried another cable too.",
            "The manual and the adapter were missing from the box.",
            "The buttons on the {p} don't respond and the light just keeps blinking. "
            "Looks like a faulty unit.",
            "The box was fine but the {p} inside is dented.",
            "Water leaks from the {p} and soaked my floor. Isn't that a safety issue?",
            "There was a burning smell from the {p} while using it. I'm scared to use it again.",
            "I've used the {p} for less than a month and it just stopped. Is the repair "
            "covered by warranty?",
            "The Bluetooth connection keeps dropping, even after a reset.",
            "The paint is peeling off the {p} and the seams are coming apart.",
        ),
    },
    "other": {
        "ko": (
            "고객센터 운영 시간이 어떻게 되나요? 주말에도 전화 가능한가요?",
            "{p} 재입고는 언제쯤 되나요? 알림 신청하고 싶어요.",
            "회사 행사용으로 {p_reul} {qty}개 정도 사려고 하는데 단체 할인 가능할까요?",
            "지난번 상담해주신 직원분이 정말 친절하셔서 감사 인사 남깁니다.",
            "오프라인 매장에서 {p_reul} 직접 보고 살 수 있나요?",
            "저희 회사와 제휴 마케팅을 제안드리고 싶습니다. 담당자 연락처를 알 수 있을까요?",
            "이벤트 당첨자 발표는 언제인가요?",
            "{p}랑 비슷한 제품 중에 뭐가 더 나은지 추천해 주실 수 있나요?",
            "사용 설명서 PDF 파일을 받을 수 있을까요?",
            "선물 포장 서비스도 하시나요?",
            "개인정보를 어떤 목적으로 얼마나 보관하시는지 궁금합니다.",
            "앱 화면 글씨가 너무 작아서 불편해요. 글씨 크기 조절 기능을 넣어주세요.",
        ),
        "en": (
            "What are your customer service hours? Can I call at the weekend?",
            "When will the {p} be back in stock? I'd like a notification.",
            "We want to buy about {qty} units of the {p} for a company event. Any bulk discount?",
            "The agent who helped me last time was really kind. Just wanted to say thanks.",
            "Can I see the {p} in a physical store before buying?",
            "We'd like to propose a marketing partnership. Who should we contact?",
            "When will the giveaway winners be announced?",
            "Could you recommend something similar to the {p}? Which is better?",
            "Is there a PDF version of the user manual?",
            "Do you offer gift wrapping?",
            "How long do you keep my personal data, and what for?",
            "The text in your app is tiny. Please add a font size setting.",
        ),
    },
}

#: A remark about another topic, added to some tickets: the label stays the main topic.
ASIDES: dict[str, dict[str, Texts]] = {
    "delivery": {
        "ko": ("그리고 배송은 보통 며칠 걸리나요?", "택배 상자도 좀 젖어서 왔어요."),
        "en": ("Also, how long does shipping usually take?", "The parcel box was wet, too."),
    },
    "refund": {
        "ko": ("안 되면 환불이라도 해주세요.", "계속 이러면 반품할 생각입니다."),
        "en": ("If not, I'd like a refund.", "If this continues I'll return it."),
    },
    "payment": {
        "ko": ("결제는 {method_ro} 했습니다.", "참고로 {amount} 결제한 건입니다."),
        "en": ("I paid by {method}.", "For reference, I paid {amount}."),
    },
    "account": {
        "ko": ("제 아이디는 {email}입니다.", "로그인은 잘 됩니다."),
        "en": ("My account email is {email}.", "I'm logged in on the app."),
    },
    "product_defect": {
        "ko": ("지난번에 산 건 고장 없이 잘 썼어요.", "제품 자체는 마음에 듭니다."),
        "en": ("The last one I bought worked fine.", "I like the product itself."),
    },
    "other": {
        "ko": ("항상 잘 이용하고 있습니다.", "답변이 빨랐으면 좋겠어요."),
        "en": ("Love your store, by the way.", "A quick answer would be appreciated."),
    },
}

#: Text that fits two categories; agents choose ``choices[0]`` with probability ``first``.
AMBIGUOUS: dict[str, tuple[tuple[str, tuple[str, str], float], ...]] = {
    "ko": (
        ("{p_ga} 고장 나서 그냥 환불받고 싶어요.", ("refund", "product_defect"), 0.6),
        ("배송 중에 부서졌는지 {p_ga} 깨진 채로 왔어요.", ("product_defect", "delivery"), 0.5),
        ("결제를 취소했는데 {amount_i} 아직 안 돌아왔어요.", ("refund", "payment"), 0.6),
        ("로그인이 안 돼서 결제를 못 하고 있어요.", ("account", "payment"), 0.6),
        ("배송비 무료 기준이 얼마인가요?", ("other", "delivery"), 0.5),
        ("불량인 줄 알고 반품 보냈는데 회수가 안 돼요.", ("refund", "delivery"), 0.5),
    ),
    "en": (
        ("The {p} broke, so I'd rather just get a refund.", ("refund", "product_defect"), 0.6),
        (
            "The {p} arrived smashed, probably damaged in transit.",
            ("product_defect", "delivery"),
            0.5,
        ),
        ("I cancelled the payment but the {amount} hasn't come back.", ("refund", "payment"), 0.6),
        ("I can't log in, so I can't pay for my cart.", ("account", "payment"), 0.6),
        ("What's the minimum order for free shipping?", ("other", "delivery"), 0.5),
        ("I sent back a faulty unit but nobody collected it.", ("refund", "delivery"), 0.5),
    ),
}

#: Tickets that name no topic (subject, body); only the order history told the agent.
VAGUE: dict[str, tuple[tuple[str, str], ...]] = {
    "ko": (
        ("문의", "주문번호 {order} 확인 부탁드립니다."),
        ("급해요", "연락 부탁드립니다. 빨리요."),
        ("확인 요청", "어제 말씀드린 건 어떻게 됐나요?"),
    ),
    "en": (
        ("Help", "Please look into order {order}, thanks."),
        ("Urgent", "Please call me back as soon as possible."),
        ("Follow-up", "Any news on what I asked about yesterday?"),
    ),
}

#: How each channel wraps a ticket: subject prefixes, openers and closers ("" for none).
FRAMES: dict[str, dict[str, dict[str, Texts]]] = {
    "email": {
        "ko": {
            "subject": ("", "", "[문의] ", "Re: "),
            "open": ("안녕하세요.", "안녕하세요, 고객센터 담당자님.", "수고 많으십니다.", ""),
            "close": (
                "확인 부탁드립니다. 감사합니다.",
                "빠른 답변 부탁드립니다. {name} 드림",
                "감사합니다.",
            ),
        },
        "en": {
            "subject": ("", "", "Re: ", "Fwd: "),
            "open": ("Hi,", "Hello support team,", "Dear customer service,", ""),
            "close": ("Thanks, {name}", "Kind regards, {name}", "Thank you."),
        },
    },
    "chat": {
        "ko": {
            "subject": ("",),
            "open": ("", "", "안녕하세요", "저기요"),
            "close": ("", "", "ㅠㅠ", "답변 부탁드려요"),
        },
        "en": {
            "subject": ("",),
            "open": ("", "", "hi", "hey there"),
            "close": ("", "", "thx", "any update?"),
        },
    },
    "phone": {
        "ko": {
            "subject": ("[전화] ",),
            "open": ("[통화 메모] 고객 말씀:", "고객 전화 요약 —", "[상담 기록]"),
            "close": ("회신 요청함.", "문자로 안내 희망.", ""),
        },
        "en": {
            "subject": ("[Call] ",),
            "open": ("Call notes. Customer says:", "Phone summary:", "[Agent note]"),
            "close": ("Asked for a call back.", "Prefers a reply by text.", ""),
        },
    },
    "app": {
        "ko": {
            "subject": ("[앱 문의] ", ""),
            "open": ("",),
            "close": ("", "(iOS 앱 {version}에서 보냄)", "(Android 앱 {version})"),
        },
        "en": {
            "subject": ("[App] ", ""),
            "open": ("",),
            "close": ("", "(sent from the iOS app {version})", "(Android app {version})"),
        },
    },
}
