package intake

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// texts are the pages' words. Explanations follow the operator's privacy
// policy §5 (開示等の請求) in plain language.
var texts = map[string]map[string]string{
	"ja": {
		"title":                         "個人情報の開示等のご請求",
		"site":                          "ケアスマイリー 個人情報窓口",
		"skip":                          "本文へ移動",
		"lead":                          "株式会社Nico(ケアスマイリー)が保有するご自身の個人情報について、開示・訂正・追加・削除・利用停止・消去・第三者提供の停止をご請求いただけます。ご本人確認のうえ、原則として10営業日以内にお答えします。ご家族などが代わりに請求することもできます。",
		"policy_summary":                "プライバシーポリシー第5条(開示等の請求)",
		"policy_text":                   "お客様は、当社が保有するご自身の個人情報等について、開示、訂正、追加、削除、利用停止、消去、第三者提供の停止(以下「開示等」といいます。)を請求することができます。請求の際は、当社所定の手続に従っていただく必要があり、所定の手数料をいただく場合があります。なお、本サービスにおいて委託されている個人情報等につきましては、委託元のお客様の指示がない限り、開示等には応じかねる場合があります。",
		"other_lang":                    "English",
		"other_lang_label":              "English version",
		"kind":                          "ご請求の種類",
		"kind_hint":                     "1つ選んでください。",
		"fee":                           "手数料がかかります",
		"fee_amount":                    "手数料 %s(ご本人確認の後にお支払い方法をご案内します)",
		"free":                          "無料",
		"you":                           "ご本人(請求の対象となる方)の情報",
		"you_hint":                      "代理人が請求する場合も、ここにはご本人の情報を記入してください。",
		"name":                          "お名前",
		"name_kana":                     "ふりがな",
		"name_kana_hint":                "ひらがな又はカタカナ(例: やまだ はなこ)",
		"email":                         "メールアドレス",
		"email_hint":                    "確認コードとご回答をこのアドレスにお送りします(代理人が請求する場合は代理人のアドレスにお送りします)。",
		"phone":                         "電話番号",
		"phone_hint":                    "例: 090-1234-5678",
		"member_id":                     "会員番号",
		"member_id_hint":                "お分かりの場合のみ。ご本人の確認と情報の特定が早くなります。",
		"optional":                      "任意",
		"what":                          "ご請求の内容",
		"details":                       "対象となる情報",
		"details_hint":                  "どの情報についてのご請求か(例: 会員登録の住所、お問い合わせの記録)。分からなければ空欄で構いません。",
		"correction":                    "訂正・追加する内容",
		"correction_hint":               "「訂正」「追加」を選んだ場合に記入してください(例: 住所を「下関市豊北町神田3489-2」に訂正)。",
		"method":                        "開示の方法",
		"method_hint":                   "「開示」「第三者提供記録の開示」の場合のご希望です。",
		"method.electronic":             "電子データ(メールでお送りするリンクからダウンロード)",
		"method.written":                "書面(郵送)",
		"agent":                         "代理人による請求",
		"as_agent":                      "代理人として請求する(ご家族などが代わりに請求する場合)",
		"agent_hint":                    "代理人として請求する場合のみ、以下を記入してください。",
		"agent_name":                    "代理人のお名前",
		"agent_email":                   "代理人のメールアドレス",
		"agent_phone":                   "代理人の電話番号",
		"agent_relationship":            "ご本人との関係",
		"rel.legal_representative":      "法定代理人(親権者・成年後見人など)",
		"rel.legal_representative.hint": "戸籍謄本、登記事項証明書など、法定代理人であることが分かる書類を添付してください。",
		"rel.appointed_proxy":           "任意代理人(ご本人から委任された方)",
		"rel.appointed_proxy.hint":      "ご本人が署名・押印した委任状を添付してください。",
		"doc.authority":                 "代理権を確認できる書類(委任状など)",
		"doc.agent_id":                  "代理人の本人確認書類(運転免許証など)",
		"doc_hint":                      "PDF・JPEG・PNG、1ファイル5MBまで。",
		"doc_kept":                      "受け取り済み: %s(%s)。別のファイルにする場合だけ選び直してください。",
		"required":                      "必須",
		"error_summary":                 "入力内容をご確認ください",
		"error_summary_n":               "%d件の項目に誤りがあります。",
		"error.unavailable":             "ただいま受け付けできませんでした。恐れ入りますが、しばらくしてからもう一度送信してください。入力内容は残っています。",
		"error.mail_quota":              "このメールアドレスあてのご請求は、本日の上限(1日%d件)に達しました。メールアドレスの持ち主に当窓口のメールが大量に届かないよう、1つのアドレスに送るメールの数を制限しています。日本時間の午前0時を過ぎてから、もう一度送信してください。",
		"error.typed_kept":              "入力内容は残っています。",
		"entrusted_note":                "当社がほかの会社から委託を受けて取り扱っている個人情報については、委託元の会社の指示に従って対応します。",
		"submit":                        "請求を送信する",
		"receipt_title":                 "ご請求を受け付けました",
		"receipt_number":                "受付番号",
		"receipt_keep":                  "お問い合わせの際に必要です。控えておいてください。",
		"receipt_due":                   "ご回答の期限",
		"receipt_due_pending":           "受付のお知らせメールでお知らせします(原則として受付から10営業日以内)。",
		"next_title":                    "これからの流れ",
		"next_1":                        "ご入力のメールアドレスに、受付のお知らせと6桁の確認コードをお送りします。",
		"next_2":                        "メールにある「状況確認ページ」のリンクを開き、確認コードを入力してください。",
		"next_3_agent":                  "代理人による請求のため、ご提出の書類を担当者が確認します。",
		"next_3_fee":                    "手数料がかかるご請求の場合は、お支払い方法をご案内します。",
		"next_4":                        "期限までにメールでご回答します。状況は状況確認ページでいつでもご覧いただけます。",
		"no_mail":                       "メールが届かない場合は、迷惑メールフォルダをご確認のうえ、受付番号を添えてお問い合わせください。",
		"contact":                       "お問い合わせ: 株式会社Nico 個人情報お問い合わせ窓口 TEL 050-5799-0339 / support@caresmiley.jp",
		"back_to_form":                  "請求フォームに戻る",

		"status_title":             "ご請求の状況",
		"status_receipt":           "受付番号",
		"status_kind":              "ご請求の種類",
		"status_received":          "受付日",
		"status_due":               "ご回答の期限",
		"status_extended":          "期限を延長しました: %s",
		"status_agent":             "代理人による請求",
		"status_stage":             "現在の段階",
		"status_steps":             "手続きの流れ",
		"step_done":                "完了",
		"step_current":             "現在",
		"status_todo":              "お客様にお願いすること",
		"status_nothing":           "現在、お手続きは必要ありません。",
		"processing_title":         "受付処理中です",
		"processing_text":          "ご請求を登録しています。数秒後にこのページを再読み込みしてください。",
		"reload":                   "再読み込み",
		"unavailable_title":        "ただいま状況を表示できません",
		"unavailable_text":         "しばらくしてから再読み込みしてください。",
		"stage.received":           "受付",
		"stage.verifying":          "ご本人確認",
		"stage.locating":           "保有する記録の確認",
		"stage.identity_review":    "担当者による確認",
		"stage.awaiting_fee":       "手数料のお支払い",
		"stage.staff_review":       "内容の確認",
		"stage.fan_out":            "対応中",
		"stage.awaiting_entrusted": "委託元の会社に確認中",
		"stage.notifying":          "ご回答の準備",
		"stage.completed":          "完了",
		"stage.closed":             "終了",
		"step.processing":          "対応",
		"todo.verifying":           "メールでお送りした6桁の確認コードを入力してください。",
		"todo.identity_review":     "担当者がご本人であること(代理人によるご請求では代理権)を確認しています。ご記入の情報だけでは確認できない場合は、担当者から本人確認書類のご提出をお願いします。",
		"todo.awaiting_fee":        "手数料のお支払いをお願いします。お支払いを確認してから対応を始めます。",
		"todo.staff_review":        "担当者がご請求の内容を確認しています。",
		"todo.processing":          "対応を進めています。完了しましたらメールでお知らせします。",
		"todo.completed":           "対応が完了しました。結果をメールでお送りしました。",
		"todo.package":             "開示の結果は、メールでお送りしたダウンロード用のリンクからご覧いただけます(%sまで)。開くときに、同じメールアドレスにお送りする1回限りのコードを入力してください。",
		"closed.unverified":        "期限内にご本人確認ができなかったため、ご請求を終了しました。必要な場合は、改めてご請求ください。",
		"closed.unpaid":            "期限内に手数料のお支払いを確認できなかったため、ご請求を終了しました。",
		"closed.withdrawn":         "ご請求は取り下げられました。",
		"closed.refused":           "ご請求には応じられないとの結論になりました。理由はメールでお知らせしました。",
		"closed.identity_rejected": "代理権を確認できなかったため、ご請求を終了しました。理由はメールでお知らせしました。",
		"closed.other":             "ご請求は終了しました。",
		"withdrawn_pending":        "取り下げのお申し出を受け付けました。",

		"code":                 "確認コード(6桁の数字)",
		"code_hint":            "メールに記載の数字を入力してください。あと%d回入力できます。有効期限: %s",
		"code_submit":          "確認する",
		"resend_title":         "コードが届かない・期限が切れた場合",
		"resend":               "新しい確認コードを送る",
		"resend_left":          "あと%d回お送りできます。",
		"resend_none":          "これ以上コードをお送りできません。お手数ですがお問い合わせ窓口までご連絡ください。",
		"verify.wrong":         "確認コードが一致しません。あと%d回入力できます。",
		"verify.locked":        "入力回数の上限に達したため、このコードは使えなくなりました。新しい確認コードをお送りしますので、下のボタンを押してください。",
		"verify.locked_final":  "入力回数の上限に達しました。これ以上コードをお送りできないため、担当者からご連絡します。",
		"verify.expired":       "確認コードの有効期限が切れています。下のボタンで新しいコードをお送りします。",
		"verify.malformed":     "確認コードは6桁の数字で入力してください。",
		"verify.state.locked":  "入力回数の上限に達したため、お送りしたコードは使えません。新しいコードをお送りします。",
		"verify.state.expired": "お送りしたコードの有効期限が切れています。新しいコードをお送りします。",
		"done.verified":        "ご本人確認が完了しました。",
		"done.resent":          "新しい確認コードをメールでお送りしました。",
		"done.withdrawn":       "ご請求の取り下げを受け付けました。確認のメールをお送りします。",
		"rejected":             "この操作は現在できません。",
		"rejected.terminal":    "ご請求はすでに完了または終了しています。",
		"rejected.withdrawn":   "ご請求はすでに取り下げられています。",
		"rejected.stage":       "ご請求の段階が進んだため、この操作はできません。",

		"withdraw_title":   "ご請求の取り下げ",
		"withdraw_button":  "ご請求を取り下げる",
		"withdraw_lead":    "ご請求が不要になった場合は、取り下げることができます。",
		"withdraw_before":  "取り下げると、ご請求は終了します。改めて請求する場合は、もう一度お申し込みください。",
		"withdraw_after":   "すでに対応を始めています。取り下げのお申し出は記録し、対応の結果とあわせてお知らせします。",
		"withdraw_reason":  "取り下げの理由",
		"withdraw_confirm": "取り下げる",
		"withdraw_cancel":  "取り下げずに状況確認ページへ戻る",
		"back_to_status":   "状況確認ページへ戻る",

		"fee_title":        "手数料のお支払い",
		"fee_link":         "お支払い方法を見る",
		"fee_amount_label": "金額",
		"fee_due_label":    "お支払い期限",
		"fee_how":          "お支払い方法",
		"fee_quote":        "お振込みの際は、振込人名の前に受付番号(%s)をご記入ください。",
		"fee_state":        "お支払いの状況",
		"fee.awaiting":     "お支払いをお待ちしています。",
		"fee.paid":         "お支払いを確認しました。ありがとうございました。",
		"fee.expired":      "お支払い期限を過ぎました。",
		"fee.none":         "このご請求に手数料はかかりません。",
		"fee_not_yet":      "手数料のご案内は、ご本人確認の後にお送りします。",

		"download_title":        "開示の結果",
		"download_lead":         "受付番号 %s のご請求に対して、当社が保有するあなたの個人情報をお知らせします。",
		"download_expires":      "このページは %s まで表示できます。必要な場合は保存してください。",
		"download_json":         "データをダウンロード(JSON形式)",
		"download_empty":        "該当する情報はありませんでした。",
		"download_none":         "(なし)",
		"gate_title":            "ご本人の確認",
		"gate_lead":             "開示の結果を表示する前に、このリンクをお送りしたメールアドレスに1回限りのコードをお送りします。コードを入力すると、この端末で%d分間、開示の結果を表示・ダウンロードできます。",
		"gate_expires":          "このリンクは %s まで有効です。",
		"gate_step1":            "1. コードを受け取る",
		"gate_send":             "メールでコードを受け取る",
		"gate_send_again":       "コードをもう一度送る",
		"gate_step2":            "2. コードを入力する",
		"gate_code":             "メールでお送りした6桁のコード",
		"gate_code_hint":        "コードは1回だけ使えます。新しいコードを送ると、前のコードは使えなくなります。",
		"gate_open":             "開示の結果を表示する",
		"download.sent":         "コードをメールでお送りしました。メールに記載の有効期限までに入力してください。",
		"download.wrong":        "コードが一致しません。あと%d回入力できます。",
		"download.locked":       "入力回数の上限に達したため、このコードは使えなくなりました。新しいコードを送ってください。",
		"download.expired":      "このコードは使えません(有効期限切れ、使用済み、又は新しいコードに置き換わりました)。新しいコードを送ってください。",
		"download.nocode":       "いま使えるコードがありません。上のボタンで新しいコードを送ってください。",
		"download.malformed":    "コードは6桁の数字で入力してください。",
		"download.refused.code": "このリンクでお送りできるコードの上限に達したか、リンクの有効期限が切れました。お手数ですが、下記の窓口までお問い合わせください。",
		"download.refused.open": "いま使えるコードがありません。新しいコードを送ってください。",
		"download.preparing":    "ただいま準備中です。少し時間をおいてからもう一度お試しください。",
		"holder.members":        "会員登録情報",
		"holder.billing":        "ご請求・お支払いの情報",
		"holder.accesslog":      "アクセスログ・クッキーの情報",
		"holder.support":        "お問い合わせの記録",
		"holder.marketing":      "キャンペーン・分析の情報",
		"holder.partners":       "第三者提供の同意と記録",
		"holder.staff":          "事業所の担当者情報",

		"notfound_title":  "このリンクは無効か、有効期限が切れています",
		"notfound_text":   "メールに記載のリンクをもう一度お確かめください。ご不明な点は、受付番号を添えてお問い合わせください。",
		"toomany_title":   "しばらくお待ちください",
		"toomany_text":    "短い時間に多くの操作がありました。少し時間をおいてからもう一度お試しください。",
		"forbidden_title": "この送信は受け付けられません",
		"forbidden_text":  "ほかのサイトからの送信は受け付けていません。このサイトのページから改めて送信してください。",
		"badform_title":   "送信内容を読み取れませんでした",
		"badform_text":    "ファイルが大きすぎる可能性があります(1ファイル5MBまで)。フォームに戻ってもう一度お試しください。",
	},
	"en": {
		"title":                         "Requests about your personal information",
		"site":                          "CareSmiley privacy desk",
		"skip":                          "Skip to main content",
		"lead":                          "You can ask Nico Inc. (CareSmiley) to disclose, correct, add to, delete, stop using or erase the personal information it holds about you, or to stop providing it to third parties. After confirming your identity we answer, as a rule, within 10 business days. A family member or other agent may file for you.",
		"policy_summary":                "Privacy policy §5 (requests for disclosure etc.)",
		"policy_text":                   "You may request disclosure, correction, addition, deletion, suspension of use, erasure, or cessation of provision to third parties of personal information about you that we hold. Requests must follow our prescribed procedure, and a prescribed fee may be charged. Personal information we handle on behalf of another company (entrustment) may not be acted on without that company's instruction.",
		"other_lang":                    "日本語",
		"other_lang_label":              "日本語版",
		"kind":                          "What are you asking for?",
		"kind_hint":                     "Choose one.",
		"fee":                           "a fee applies",
		"fee_amount":                    "fee %s (we tell you how to pay after confirming your identity)",
		"free":                          "free",
		"you":                           "About the person the request is about",
		"you_hint":                      "If you are filing for someone else, enter their details here.",
		"name":                          "Full name",
		"name_kana":                     "Name in kana (furigana)",
		"name_kana_hint":                "Hiragana or katakana, if you have one (e.g. やまだ はなこ).",
		"email":                         "E-mail address",
		"email_hint":                    "We send the verification code and our answer to this address (to the agent's address when an agent files).",
		"phone":                         "Phone",
		"phone_hint":                    "e.g. 090-1234-5678",
		"member_id":                     "Member number",
		"member_id_hint":                "Only if you know it; it helps us find your records faster.",
		"optional":                      "optional",
		"what":                          "Your request",
		"details":                       "Which information",
		"details_hint":                  "Which information the request is about (e.g. the address in my membership, my inquiry records). Leave empty if you are not sure.",
		"correction":                    "What to correct or add",
		"correction_hint":               "Fill this in for a correction or addition (e.g. correct my address to …).",
		"method":                        "How should we disclose?",
		"method_hint":                   "Your preference for a disclosure or disclosure of provision records.",
		"method.electronic":             "Electronically (a download link by e-mail)",
		"method.written":                "In writing (by post)",
		"agent":                         "Filing for someone else",
		"as_agent":                      "I am filing for someone else (as their agent)",
		"agent_hint":                    "Fill in the following only when you file as an agent.",
		"agent_name":                    "Agent's full name",
		"agent_email":                   "Agent's e-mail address",
		"agent_phone":                   "Agent's phone",
		"agent_relationship":            "Relationship to the person",
		"rel.legal_representative":      "Legal representative (parent, guardian)",
		"rel.legal_representative.hint": "Attach a document showing you are the legal representative (e.g. family register, certificate of guardianship).",
		"rel.appointed_proxy":           "Appointed proxy (with a power of attorney)",
		"rel.appointed_proxy.hint":      "Attach the power of attorney signed by the person.",
		"doc.authority":                 "Document showing your authority (power of attorney etc.)",
		"doc.agent_id":                  "Agent's identity document (driving licence etc.)",
		"doc_hint":                      "PDF, JPEG or PNG, up to 5 MB per file.",
		"doc_kept":                      "Received: %s (%s). Choose a file only to replace it.",
		"required":                      "required",
		"error_summary":                 "Please check what you entered",
		"error_summary_n":               "%d fields need your attention.",
		"error.unavailable":             "We could not accept the request just now. Please send it again in a moment; what you typed is still here.",
		"error.mail_quota":              "Requests whose mails go to this e-mail address have reached today's limit (%d a day): we limit the mails one address receives so that nobody's mailbox can be flooded with ours. Please send the request again after midnight Japan time (JST).",
		"error.typed_kept":              "What you typed is still here.",
		"entrusted_note":                "Personal information we handle on behalf of another company is acted on according to that company's instructions.",
		"submit":                        "Send request",
		"receipt_title":                 "We have received your request",
		"receipt_number":                "Receipt number",
		"receipt_keep":                  "Please keep it: we ask for it when you contact us.",
		"receipt_due":                   "We answer by",
		"receipt_due_pending":           "We tell you in the confirmation e-mail (as a rule within 10 business days).",
		"next_title":                    "What happens next",
		"next_1":                        "We e-mail a confirmation and a 6-digit verification code to the address you gave.",
		"next_2":                        "Open the status page link in that e-mail and enter the code.",
		"next_3_agent":                  "As an agent filed the request, our staff check the documents you sent.",
		"next_3_fee":                    "If the request carries a fee, we tell you how to pay.",
		"next_4":                        "We answer by e-mail by the due date. The status page shows where your request is at any time.",
		"no_mail":                       "No e-mail? Please check your spam folder, then contact us with your receipt number.",
		"contact":                       "Contact: Nico Inc. privacy desk, TEL 050-5799-0339 / support@caresmiley.jp",
		"back_to_form":                  "Back to the request form",

		"status_title":             "Your request",
		"status_receipt":           "Receipt number",
		"status_kind":              "Request",
		"status_received":          "Received",
		"status_due":               "We answer by",
		"status_extended":          "The due date was extended: %s",
		"status_agent":             "Filed by an agent",
		"status_stage":             "Current step",
		"status_steps":             "Steps",
		"step_done":                "done",
		"step_current":             "current",
		"status_todo":              "What we need from you",
		"status_nothing":           "Nothing is needed from you at the moment.",
		"processing_title":         "We are registering your request",
		"processing_text":          "This takes a few seconds. Please reload this page.",
		"reload":                   "Reload",
		"unavailable_title":        "We cannot show the status just now",
		"unavailable_text":         "Please reload this page in a moment.",
		"stage.received":           "Received",
		"stage.verifying":          "Identity check",
		"stage.locating":           "Finding your records",
		"stage.identity_review":    "Identity check by staff",
		"stage.awaiting_fee":       "Fee payment",
		"stage.staff_review":       "Review",
		"stage.fan_out":            "In progress",
		"stage.awaiting_entrusted": "Waiting for the entrusting company",
		"stage.notifying":          "Preparing our answer",
		"stage.completed":          "Completed",
		"stage.closed":             "Closed",
		"step.processing":          "Handling",
		"todo.verifying":           "Enter the 6-digit verification code we e-mailed you.",
		"todo.identity_review":     "Our staff are confirming your identity (for an agent's request, the agent's authority). Where the details given are not enough to confirm it, we will ask you for identity documents.",
		"todo.awaiting_fee":        "Please pay the fee. We start once we have received it.",
		"todo.staff_review":        "Our staff are reviewing your request.",
		"todo.processing":          "We are working on your request and e-mail you when it is done.",
		"todo.completed":           "Your request is complete. We have e-mailed you the result.",
		"todo.package":             "You can view the disclosed information through the download link we e-mailed you (until %s). Opening it asks for a one-time code we e-mail to the same address.",
		"closed.unverified":        "We closed the request because your identity was not confirmed in time. You are welcome to file again.",
		"closed.unpaid":            "We closed the request because the fee was not paid in time.",
		"closed.withdrawn":         "The request was withdrawn.",
		"closed.refused":           "We cannot comply with the request; we have e-mailed you the reasons.",
		"closed.identity_rejected": "We closed the request because we could not confirm the agent's authority; we have e-mailed you the reasons.",
		"closed.other":             "The request is closed.",
		"withdrawn_pending":        "We have received your withdrawal.",

		"code":                 "Verification code (6 digits)",
		"code_hint":            "The number in our e-mail. %d attempts left. Valid until %s.",
		"code_submit":          "Confirm",
		"resend_title":         "No code, or the code expired?",
		"resend":               "Send me a new code",
		"resend_left":          "We can send %d more.",
		"resend_none":          "We cannot send more codes. Please contact our privacy desk.",
		"verify.wrong":         "That code does not match. %d attempts left.",
		"verify.locked":        "Too many wrong codes: this code no longer works. Please ask for a new code below.",
		"verify.locked_final":  "Too many wrong codes, and no more codes can be sent. Our staff will contact you.",
		"verify.expired":       "The code has expired. Please ask for a new code below.",
		"verify.malformed":     "Enter the code as 6 digits.",
		"verify.state.locked":  "Too many wrong codes: the code we sent no longer works. Ask for a new one.",
		"verify.state.expired": "The code we sent has expired. Ask for a new one.",
		"done.verified":        "Your identity is confirmed.",
		"done.resent":          "We have e-mailed you a new verification code.",
		"done.withdrawn":       "We have received your withdrawal and will confirm it by e-mail.",
		"rejected":             "This is not possible at the moment.",
		"rejected.terminal":    "The request is already completed or closed.",
		"rejected.withdrawn":   "The request has already been withdrawn.",
		"rejected.stage":       "The request has moved on; this is no longer possible.",

		"withdraw_title":   "Withdraw your request",
		"withdraw_button":  "Withdraw the request",
		"withdraw_lead":    "If you no longer need the request, you can withdraw it.",
		"withdraw_before":  "Withdrawing closes the request. To ask again, file a new request.",
		"withdraw_after":   "We have already started. We record your withdrawal and report it with the outcome.",
		"withdraw_reason":  "Reason for withdrawing",
		"withdraw_confirm": "Withdraw",
		"withdraw_cancel":  "Keep the request and go back",
		"back_to_status":   "Back to the status page",

		"fee_title":        "Paying the fee",
		"fee_link":         "How to pay",
		"fee_amount_label": "Amount",
		"fee_due_label":    "Pay by",
		"fee_how":          "How to pay",
		"fee_quote":        "Please put your receipt number (%s) before your name in the transfer.",
		"fee_state":        "Payment",
		"fee.awaiting":     "We are waiting for your payment.",
		"fee.paid":         "We have received your payment. Thank you.",
		"fee.expired":      "The payment period has ended.",
		"fee.none":         "This request carries no fee.",
		"fee_not_yet":      "We tell you how to pay after confirming your identity.",

		"download_title":        "Your disclosed information",
		"download_lead":         "The personal information we hold about you, in answer to request %s.",
		"download_expires":      "This page is available until %s. Please save what you need.",
		"download_json":         "Download the data (JSON)",
		"download_empty":        "We found no information.",
		"download_none":         "(none)",
		"gate_title":            "Confirming it is you",
		"gate_lead":             "Before we show the disclosed information, we e-mail a one-time code to the address this link was sent to. Once you enter it, this device can view and download the information for %d minutes.",
		"gate_expires":          "This link works until %s.",
		"gate_step1":            "1. Get a code",
		"gate_send":             "E-mail me a code",
		"gate_send_again":       "Send another code",
		"gate_step2":            "2. Enter the code",
		"gate_code":             "The 6-digit code we e-mailed you",
		"gate_code_hint":        "A code works once. Asking for a new code makes the previous one stop working.",
		"gate_open":             "Show the disclosed information",
		"download.sent":         "We have e-mailed you a code. Please enter it before the time given in the e-mail.",
		"download.wrong":        "That code does not match. %d attempts left.",
		"download.locked":       "Too many wrong codes: this code no longer works. Please ask for a new code.",
		"download.expired":      "This code no longer works (it expired, was used, or a newer code replaced it). Please ask for a new code.",
		"download.nocode":       "No code works right now. Please ask for a new code with the button above.",
		"download.malformed":    "Enter the code as 6 digits.",
		"download.refused.code": "No more codes can be sent for this link, or the link has expired. Please contact us at the address below.",
		"download.refused.open": "No code works right now. Please ask for a new code.",
		"download.preparing":    "This is still being prepared. Please try again in a moment.",
		"holder.members":        "Membership registration",
		"holder.billing":        "Invoices and payments",
		"holder.accesslog":      "Access logs and cookies",
		"holder.support":        "Inquiry records",
		"holder.marketing":      "Campaigns and analytics",
		"holder.partners":       "Third-party provision: consents and records",
		"holder.staff":          "Facility staff records",

		"notfound_title":  "This link is not valid or has expired",
		"notfound_text":   "Please check the link in our e-mail. If in doubt, contact us with your receipt number.",
		"toomany_title":   "Please wait a moment",
		"toomany_text":    "There were many attempts in a short time. Please try again a little later.",
		"forbidden_title": "We cannot accept this submission",
		"forbidden_text":  "We accept submissions from this site's pages only. Please send it again from our page.",
		"badform_title":   "We could not read what was sent",
		"badform_text":    "A file may be too large (up to 5 MB each). Please go back to the form and try again.",
	},
}

// PaymentInstructions are the operator's payment details shown on the fee
// page; they match the workflow's default for the fee notice
// (workflows/request.DefaultPaymentInstructions).
const PaymentInstructions = "銀行振込 / Bank transfer: 山口みなと銀行 下関支店 普通 1234567 カ)ニコ (Nico Inc.) — 受付番号をご記入ください / quote your receipt number"

func text(locale, key string) string {
	if s, ok := texts[locale][key]; ok {
		return s
	}
	if s, ok := texts["ja"][key]; ok {
		return s
	}
	return key
}

// textf formats a text with arguments.
func textf(locale, key string, args ...any) string {
	return fmt.Sprintf(text(locale, key), args...)
}

var jaWeekdays = []string{"日", "月", "火", "水", "木", "金", "土"}

// formatDate writes a date as people read it, in JST.
func formatDate(locale string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(jst)
	if locale == "en" {
		return t.Format("Monday 2 January 2006")
	}
	return fmt.Sprintf("%d年%d月%d日(%s)", t.Year(), t.Month(), t.Day(), jaWeekdays[t.Weekday()])
}

// formatDateTime adds the time of day.
func formatDateTime(locale string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if locale == "en" {
		return formatDate(locale, t) + t.In(jst).Format(", 15:04 (JST)")
	}
	return formatDate(locale, t) + t.In(jst).Format(" 15:04")
}

// formatYen writes an amount: 1,000円 / ¥1,000.
func formatYen(locale string, amount int64) string {
	s := strconv.FormatInt(amount, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if locale == "en" {
		return "¥" + b.String()
	}
	return b.String() + "円"
}

// formatSize writes a file size: 120 KB, 1.5 MB.
func formatSize(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	case n >= 1<<10:
		return strconv.Itoa((n+1023)>>10) + " KB"
	}
	return strconv.Itoa(n) + " B"
}
