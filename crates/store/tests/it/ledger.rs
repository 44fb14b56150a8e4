use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tenon_ledger::voucher::VoucherDraft;
use tenon_ledger::{
    AccountCode, BookSettings, Currency, Dimension, Line, Period, Standard, VoucherState, Word,
};
use tenon_store::ledger::{BookRef, CloseOptions};
use tenon_store::{StoreError, WriteContext};

use crate::{backend_tests, new_org};

fn settings(name: &str) -> BookSettings {
    BookSettings {
        name: name.to_owned(),
        base_currency: Currency::CNY,
        standard: Standard::Cas,
        fiscal_year_start_month: 1,
        segregation_of_duties: false,
    }
}

fn sale(day: u32, cents: i64) -> VoucherDraft {
    let amount = Decimal::new(cents, 2);
    let mut ar = Line::simple(
        "销售",
        AccountCode::parse("1122").unwrap(),
        amount,
        Decimal::ZERO,
    );
    ar.dimensions = BTreeMap::from([(Dimension::Customer, "湖州优品".to_owned())]);
    VoucherDraft {
        date: NaiveDate::from_ymd_opt(2026, 10, day).unwrap(),
        word: Word::Ji,
        attachments: 0,
        lines: vec![
            ar,
            Line::simple(
                "销售",
                AccountCode::parse("6001").unwrap(),
                Decimal::ZERO,
                amount,
            ),
        ],
    }
}

backend_tests! {
    async fn voucher_pages_follow_word_and_number_with_their_lines(store) {
        let (org, _) = new_org(&store, "Pages").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        tenant.create_ledger_book(&ctx, settings("主账套")).await.unwrap();
        for (i, word) in [Word::Ji, Word::Shou, Word::Ji, Word::Fu, Word::Ji, Word::Zhuan, Word::Shou].into_iter().enumerate() {
            let mut draft = sale(1 + i as u32, 100 + i as i64);
            draft.word = word;
            tenant.create_voucher(&ctx, &BookRef::name("主账套"), draft).await.unwrap();
        }
        let october = Period::parse("2026-10").unwrap();
        let all = tenant.list_vouchers(&BookRef::name("主账套"), october).await.unwrap();
        let mut paged = Vec::new();
        let mut after = None;
        loop {
            let page = tenant.list_vouchers_page(&BookRef::name("主账套"), october, tenon_model::PageRequest::new(3, after).unwrap()).await.unwrap();
            assert!(page.items.len() <= 3);
            paged.extend(page.items);
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let key = |v: &tenon_store::ledger::StoredVoucher| (v.voucher.word.as_str().to_owned(), v.voucher.number);
        assert_eq!(paged.iter().map(key).collect::<Vec<_>>(), all.iter().map(key).collect::<Vec<_>>());
        assert_eq!(paged.len(), 7);
        assert!(paged.iter().all(|v| v.voucher.lines.len() == 2 && v.voucher.total_debit() == v.voucher.total_credit()));
        // An exact multiple of the page size ends without an empty extra page being promised.
        let first = tenant.list_vouchers_page(&BookRef::name("主账套"), october, tenon_model::PageRequest::new(7, None).unwrap()).await.unwrap();
        assert_eq!((first.items.len(), first.next_after), (7, None));
        // A cursor of another period (or book) names nothing here.
        let other = Period::parse("2026-11").unwrap();
        let foreign = tenant.list_vouchers_page(&BookRef::name("主账套"), other, tenon_model::PageRequest::new(3, Some(all[0].id)).unwrap()).await;
        assert!(matches!(foreign, Err(StoreError::NotFound { .. })), "{foreign:?}");
    }

    async fn vouchers_number_without_gaps_under_concurrent_writers_and_balances_follow_posting(store) {
        let (org, _) = new_org(&store, "婚庆公司").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        tenant.create_ledger_book(&ctx, settings("主账套")).await.unwrap();
        let mut tasks = Vec::new();
        for task in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let tenant = store.tenant(org.id);
                let ctx = WriteContext::system();
                for i in 0..5 {
                    let created = tenant.create_voucher(&ctx, &BookRef::name("主账套"), sale(1 + (i % 28), 100 + task * 10 + i64::from(i))).await.unwrap();
                    tenant.advance_voucher(&ctx, &BookRef::name("主账套"), created.id, VoucherState::Reviewed).await.unwrap();
                    tenant.advance_voucher(&ctx, &BookRef::name("主账套"), created.id, VoucherState::Posted).await.unwrap();
                }
            }));
        }
        for task in tasks { task.await.unwrap(); }
        let october = Period::parse("2026-10").unwrap();
        let vouchers = tenant.list_vouchers(&BookRef::name("主账套"), october).await.unwrap();
        let numbers: Vec<u32> = vouchers.iter().map(|v| v.voucher.number).collect();
        assert_eq!(numbers, (1..=40).collect::<Vec<_>>());
        let report = tenant.trial_balance(&BookRef::name("主账套"), october).await.unwrap();
        assert!(report.is_balanced());
        let expected: Decimal = vouchers.iter().map(|v| v.voucher.total_debit()).sum();
        assert_eq!(report.totals.period_debit, expected);
        tenant.rebuilt_balances(&BookRef::name("主账套")).await.unwrap();

        // Reversal: a posted red voucher, and the balances net to zero for the reversed amount.
        let first = &vouchers[0];
        let red = tenant.reverse_voucher(&ctx, &BookRef::name("主账套"), first.id, NaiveDate::from_ymd_opt(2026, 10, 30).unwrap()).await.unwrap();
        assert_eq!((red.voucher.number, red.voucher.state, red.reverses_id), (41, VoucherState::Posted, Some(first.id)));
        let again = tenant.reverse_voucher(&ctx, &BookRef::name("主账套"), first.id, NaiveDate::from_ymd_opt(2026, 10, 30).unwrap()).await.unwrap_err();
        assert!(matches!(again, StoreError::Conflict { .. }), "{again:?}");
        tenant.rebuilt_balances(&BookRef::name("主账套")).await.unwrap();

        // A closed period refuses new vouchers.
        tenant.close_ledger_periods(&ctx, &BookRef::name("主账套"), october, CloseOptions { force: true, ..CloseOptions::default() }).await.unwrap();
        let refused = tenant.create_voucher(&ctx, &BookRef::name("主账套"), sale(2, 100)).await.unwrap_err();
        assert!(refused.to_string().contains("is closed"), "{refused}");
    }

    async fn a_voucher_that_moves_the_balances_appends_voucher_posted_in_its_transaction(store) {
        let (org, _) = new_org(&store, "Posted events").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        let book = tenant.create_ledger_book(&ctx, settings("主账套")).await.unwrap();
        let posted = || async { tenant.events_after(0, &["voucher.posted"], 100).await.unwrap() };
        // A draft and its review move nothing: no event.
        let draft = tenant.create_voucher(&ctx, &BookRef::name("主账套"), sale(3, 11300)).await.unwrap();
        tenant.advance_voucher(&ctx, &BookRef::name("主账套"), draft.id, VoucherState::Reviewed).await.unwrap();
        assert!(posted().await.is_empty());
        // Posting it: one event naming the book and the voucher, the voucher as posted in `data.after`.
        tenant.advance_voucher(&ctx, &BookRef::name("主账套"), draft.id, VoucherState::Posted).await.unwrap();
        let events = posted().await;
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event.subject, serde_json::json!({"book_id": book.id.to_string(), "voucher_id": draft.id.to_string()}));
        assert_eq!(event.subject_key, format!("voucher:{}", draft.id));
        assert_eq!((event.data["before"]["state"].as_str(), event.data["after"]["state"].as_str()), (Some("reviewed"), Some("posted")));
        assert_eq!(event.data["after"]["total"], "113.00");
        // Created posted (two at once), and a reversal's red voucher: one event each; a refused batch none.
        let batch = tenant.create_vouchers(&ctx, &BookRef::name("主账套"), vec![sale(4, 100), sale(5, 200)], VoucherState::Posted).await.unwrap();
        let mut unbalanced = sale(6, 300);
        unbalanced.lines[1].credit = Decimal::new(1, 2);
        tenant.create_vouchers(&ctx, &BookRef::name("主账套"), vec![sale(6, 300), unbalanced], VoucherState::Posted).await.unwrap_err();
        let red = tenant.reverse_voucher(&ctx, &BookRef::name("主账套"), batch[0].id, NaiveDate::from_ymd_opt(2026, 10, 30).unwrap()).await.unwrap();
        let ids: Vec<String> = posted().await.iter().map(|event| event.subject["voucher_id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, [draft.id, batch[0].id, batch[1].id, red.id].map(|id| id.to_string()));
        assert_eq!(posted().await[3].data["after"]["total"], "-1.00");
    }

    async fn import_then_export_keeps_the_books(store) {
        let (org, _) = new_org(&store, "婚庆公司").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        tenant.create_ledger_book(&ctx, settings("源账套")).await.unwrap();
        for day in 1..=3 {
            let created = tenant.create_voucher(&ctx, &BookRef::name("源账套"), sale(day, 11_300)).await.unwrap();
            tenant.advance_voucher(&ctx, &BookRef::name("源账套"), created.id, VoucherState::Reviewed).await.unwrap();
            tenant.advance_voucher(&ctx, &BookRef::name("源账套"), created.id, VoucherState::Posted).await.unwrap();
        }
        let october = Period::parse("2026-10").unwrap();
        let books = tenant.export_books(&BookRef::name("源账套"), october, october, false).await.unwrap();
        assert_eq!(books.vouchers.len(), 3);
        let outcome = tenant.import_books(&ctx, "新账套", books.clone(), &|_, _| {}).await.unwrap();
        assert!(outcome.book_created);
        let back = tenant.export_books(&BookRef::name("新账套"), october, october, false).await.unwrap();
        assert_eq!(back.vouchers, books.vouchers);
        let twice = tenant.import_books(&ctx, "新账套", books, &|_, _| {}).await.unwrap_err();
        assert!(twice.to_string().contains("already exists"), "{twice}");
    }

    async fn a_u8_export_of_a_book_with_sub_accounts_imports_into_a_new_book_chart_document_first(store) {
        let (org, _) = new_org(&store, "婚庆公司").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        let source = BookRef::name("源账套");
        tenant.create_ledger_book(&ctx, settings("源账套")).await.unwrap();
        // 1122 → 112206 → 11220601, as bench-ledger widens its chart: accounts the template does not have.
        let (_, template) = tenant.ledger_accounts(&source).await.unwrap();
        let mut account = template.iter().find(|a| a.code.as_str() == "1122").unwrap().clone();
        account.role = None;
        for code in ["112206", "11220601"] {
            account.code = AccountCode::parse(code).unwrap();
            account.name = format!("应收账款{code}");
            tenant.create_ledger_account(&ctx, &source, account.clone()).await.unwrap();
        }
        let mut drafts = vec![sale(1, 11_300), sale(2, 22_600), sale(3, 33_900)];
        for draft in &mut drafts {
            draft.lines[0].account = AccountCode::parse("11220601").unwrap();
        }
        tenant.create_vouchers(&ctx, &source, drafts, VoucherState::Posted).await.unwrap();
        let october = Period::parse("2026-10").unwrap();
        let books = tenant.export_books(&source, october, october, false).await.unwrap();
        let u8 = |document: &'static str| {
            use tenon_ledger::exchange::{Format, Options, export, import};
            let options = Options { u8_document: document, ..Options::default() };
            let (bytes, _) = export(Format::YonyouU8, &books, &options).unwrap();
            import(Format::YonyouU8, &bytes, &options, "导入账套", Currency::CNY).unwrap().0
        };
        // The voucher document alone carries no chart: into a new book it is refused once, naming the account
        // the template lacks and the document to import first; nothing is written, not even the book.
        let refused = tenant.import_books(&ctx, "导入账套", u8("voucher"), &|_, _| {}).await.unwrap_err();
        let StoreError::Invalid(invalid) = &refused else { panic!("{refused:?}") };
        assert_eq!(invalid.0.len(), 1, "{invalid}");
        assert_eq!(invalid.0[0].field, "accounts");
        assert!(invalid.0[0].reason.contains("no account 11220601 (1 in all)") && invalid.0[0].reason.contains("document=code"), "{invalid}");
        assert!(tenant.ledger_book(&BookRef::name("导入账套")).await.is_err());
        // The chart document, then the voucher document: the copy has the source's accounts and balances.
        let chart = tenant.import_books(&ctx, "导入账套", u8("code"), &|_, _| {}).await.unwrap();
        assert!(chart.book_created);
        assert_eq!(chart.accounts_created, template.len() + 2);
        let vouchers = tenant.import_books(&ctx, "导入账套", u8("voucher"), &|_, _| {}).await.unwrap();
        assert!(!vouchers.book_created);
        assert_eq!((vouchers.accounts_created, vouchers.vouchers), (0, 3));
        let copy = tenant.trial_balance(&BookRef::name("导入账套"), october).await.unwrap();
        let original = tenant.trial_balance(&source, october).await.unwrap();
        assert_eq!(copy.rows, original.rows);
        assert_eq!(copy.totals, original.totals);
        assert!(copy.rows.iter().any(|row| row.code.as_str() == "11220601" && row.period_debit == Decimal::new(67_800, 2)));
    }
}

backend_tests! {
    async fn batches_post_concurrently_with_consecutive_numbers_and_balances_equal_to_the_lines(store) {
        let (org, _) = new_org(&store, "婚庆公司").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        tenant.create_ledger_book(&ctx, settings("主账套")).await.unwrap();
        let mut tasks = Vec::new();
        for task in 0..4i64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let tenant = store.tenant(org.id);
                let drafts: Vec<VoucherDraft> = (0..25).map(|i| sale(1 + (i % 28), 100 + task * 1000 + i64::from(i))).collect();
                let posted = tenant.create_vouchers(&WriteContext::system(), &BookRef::name("主账套"), drafts, VoucherState::Posted).await.unwrap();
                // Numbers of one batch are consecutive, in the order the drafts were given.
                let numbers: Vec<u32> = posted.iter().map(|v| v.voucher.number).collect();
                assert_eq!(numbers, (numbers[0]..numbers[0] + 25).collect::<Vec<_>>());
                assert!(posted.iter().all(|v| v.voucher.state == VoucherState::Posted && v.voucher.poster.is_some()));
            }));
        }
        for task in tasks { task.await.unwrap(); }
        let october = Period::parse("2026-10").unwrap();
        let vouchers = tenant.list_vouchers(&BookRef::name("主账套"), october).await.unwrap();
        assert_eq!(vouchers.iter().map(|v| v.voucher.number).collect::<Vec<_>>(), (1..=100).collect::<Vec<_>>());
        let report = tenant.trial_balance(&BookRef::name("主账套"), october).await.unwrap();
        assert!(report.is_balanced());
        let expected: Decimal = vouchers.iter().map(|v| v.voucher.total_debit()).sum();
        assert_eq!(report.totals.period_debit, expected);
        tenant.rebuilt_balances(&BookRef::name("主账套")).await.unwrap();
    }

    async fn a_batch_with_one_bad_voucher_writes_nothing_and_names_it(store) {
        let (org, _) = new_org(&store, "婚庆公司").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        tenant.create_ledger_book(&ctx, settings("主账套")).await.unwrap();
        let mut bad = sale(3, 100);
        bad.lines[1].credit = Decimal::new(99, 2);
        let refused = tenant.create_vouchers(&ctx, &BookRef::name("主账套"), vec![sale(2, 100), bad], VoucherState::Posted).await.unwrap_err();
        let StoreError::Invalid(invalid) = refused else { panic!("{refused:?}") };
        assert_eq!(invalid.0[0].field, "vouchers[1].lines");
        assert!(invalid.0[0].reason.contains("does not balance"), "{invalid}");
        assert!(tenant.list_vouchers(&BookRef::name("主账套"), Period::parse("2026-10").unwrap()).await.unwrap().is_empty());
        // The numbers were given back with the rolled-back transaction.
        let next = tenant.create_voucher(&ctx, &BookRef::name("主账套"), sale(2, 100)).await.unwrap();
        assert_eq!(next.voucher.number, 1);
    }

    async fn with_segregation_of_duties_a_voucher_cannot_be_created_posted(store) {
        let (org, _) = new_org(&store, "婚庆公司").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        tenant.create_ledger_book(&ctx, BookSettings { segregation_of_duties: true, ..settings("主账套") }).await.unwrap();
        let refused = tenant.create_vouchers(&ctx, &BookRef::name("主账套"), vec![sale(2, 100)], VoucherState::Posted).await.unwrap_err();
        assert!(matches!(&refused, StoreError::Conflict { .. }) && refused.to_string().contains("separates duties"), "{refused}");
        tenant.create_vouchers(&ctx, &BookRef::name("主账套"), vec![sale(2, 100)], VoucherState::Draft).await.unwrap();
    }

    async fn an_import_refuses_numbers_the_book_or_the_file_already_uses(store) {
        let (org, _) = new_org(&store, "婚庆公司").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        tenant.create_ledger_book(&ctx, settings("源账套")).await.unwrap();
        tenant.create_vouchers(&ctx, &BookRef::name("源账套"), vec![sale(1, 100), sale(2, 200)], VoucherState::Posted).await.unwrap();
        let october = Period::parse("2026-10").unwrap();
        let mut books = tenant.export_books(&BookRef::name("源账套"), october, october, false).await.unwrap();
        let refused = tenant.import_books(&ctx, "源账套", books.clone(), &|_, _| {}).await.unwrap_err();
        assert!(refused.to_string().contains("voucher 记-1 of 2026-10 already exists in book 源账套"), "{refused}");
        books.vouchers[1].number = 1;
        let twice = tenant.import_books(&ctx, "新账套", books, &|_, _| {}).await.unwrap_err();
        assert!(twice.to_string().contains("vouchers[2026-10 记-1]: the file holds this voucher number twice"), "{twice}");
        // Nothing of the refused import remains, not even the book it would have created.
        assert!(tenant.ledger_book(&BookRef::name("新账套")).await.is_err());
    }

    async fn statements_of_a_book_imported_from_saft_equal_those_of_the_book_it_came_from(store) {
        let (org, _) = new_org(&store, "婚庆公司").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        let source = BookRef::name("源账套");
        tenant.create_ledger_book(&ctx, settings("源账套")).await.unwrap();
        // Sales to several customers, an expense by department, a receipt in advance: then carried forward.
        let mut drafts = Vec::new();
        for day in 1..=12u32 {
            let mut draft = sale(day, 10_000 + i64::from(day) * 137);
            draft.lines[0].dimensions = BTreeMap::from([(Dimension::Customer, format!("客户{}", day % 4))]);
            drafts.push(draft);
        }
        let mut expense = Line::simple("差旅", AccountCode::parse("6602").unwrap(), Decimal::new(4_321, 2), Decimal::ZERO);
        expense.dimensions = BTreeMap::from([(Dimension::Department, "行政部".to_owned())]);
        let mut advance = Line::simple("预收", AccountCode::parse("2203").unwrap(), Decimal::ZERO, Decimal::new(50_000, 2));
        advance.dimensions = BTreeMap::from([(Dimension::Customer, "客户9".to_owned())]);
        drafts.push(VoucherDraft { date: NaiveDate::from_ymd_opt(2026, 10, 20).unwrap(), word: Word::Fu, attachments: 0,
            lines: vec![expense, Line::simple("差旅", AccountCode::parse("1002").unwrap(), Decimal::ZERO, Decimal::new(4_321, 2))] });
        drafts.push(VoucherDraft { date: NaiveDate::from_ymd_opt(2026, 10, 21).unwrap(), word: Word::Shou, attachments: 0,
            lines: vec![Line::simple("预收", AccountCode::parse("1002").unwrap(), Decimal::new(50_000, 2), Decimal::ZERO), advance] });
        tenant.create_vouchers(&ctx, &source, drafts, VoucherState::Posted).await.unwrap();
        let october = Period::parse("2026-10").unwrap();
        let before = tenant.income_statement(&source, october, october, None).await.unwrap();
        let (_, carried) = tenant.carry_forward(&ctx, &source, october).await.unwrap();
        assert_eq!(carried.len(), 1);
        let moved: Decimal = carried[0].voucher.lines.iter().filter(|l| l.account.as_str() == "4103").map(|l| l.credit - l.debit).sum();
        let income = tenant.income_statement(&source, october, october, None).await.unwrap();
        assert_eq!(income.lines, before.lines, "the carry-forward voucher does not change the income statement");
        assert_eq!(income.lines.last().unwrap().current, moved);
        let sheet = tenant.balance_sheet(&source, october, None).await.unwrap();
        let line = |code: &str| sheet.lines.iter().find(|l| l.code == code).unwrap().current;
        assert_eq!(line("29"), line("59"));
        assert_eq!(line("35"), Decimal::new(50_000, 2), "预收款项");

        let books = tenant.export_books(&source, october, october, false).await.unwrap();
        let (bytes, _) = tenon_ledger::exchange::export(tenon_ledger::exchange::Format::Saft, &books, &Default::default()).unwrap();
        let (imported, _) = tenon_ledger::exchange::import(tenon_ledger::exchange::Format::Saft, &bytes, &Default::default(), "导入账套", Currency::CNY).unwrap();
        tenant.import_books(&ctx, "导入账套", imported, &|_, _| {}).await.unwrap();
        let copy = BookRef::name("导入账套");
        assert_eq!(tenant.balance_sheet(&copy, october, None).await.unwrap().lines, sheet.lines);
        assert_eq!(tenant.income_statement(&copy, october, october, None).await.unwrap().lines, income.lines);
    }

    async fn a_file_with_unbalanced_openings_imports_them_and_no_period_closes_until_they_are_corrected(store) {
        let (org, _) = new_org(&store, "Selskapet").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        let bytes = std::fs::read(shared_saft("ExampleFile_SAF-T_Financial_999999999_20161125213512.xml")).unwrap();
        let (books, report) = tenon_ledger::exchange::import(tenon_ledger::exchange::Format::Saft, &bytes, &Default::default(), "Selskapet", Currency::CNY).unwrap();
        assert!(report.warnings.iter().any(|w| w.contains("the opening balances do not balance")), "{:?}", report.warnings);
        let outcome = tenant.import_books(&ctx, "Selskapet", books, &|_, _| {}).await.unwrap();
        assert!(outcome.openings > 0);
        assert_ne!(outcome.opening_debit, outcome.opening_credit);
        let book = BookRef::name("Selskapet");
        let (stored, openings) = tenant.ledger_openings(&book).await.unwrap();
        assert!(!stored.opening_balanced());
        let openings = openings.unwrap();
        // The trial balance shows the file's openings as written, off by their difference.
        let trial = tenant.trial_balance(&book, openings.period).await.unwrap();
        assert_eq!(trial.totals.opening_debit - trial.totals.opening_credit, outcome.opening_debit - outcome.opening_credit);
        let refused = tenant.close_ledger_periods(&ctx, &book, openings.period, CloseOptions { force: true, ..CloseOptions::default() }).await.unwrap_err();
        match &refused {
            StoreError::Invalid(invalid) => assert_eq!(invalid.0[0].code, tenon_model::DetailCode::OpeningsUnbalanced, "{refused}"),
            other => panic!("{other}"),
        }
        // Corrected through the API's rule (balanced), the period closes.
        let mut balances = openings.balances.clone();
        let difference = outcome.opening_debit - outcome.opening_credit;
        let (_, accounts) = tenant.ledger_accounts(&book).await.unwrap();
        let chart = tenon_ledger::Chart::from_accounts(accounts.clone()).unwrap();
        let spare = accounts.iter().find(|a| chart.is_leaf(&a.code) && !balances.iter().any(|o| o.account == a.code)).unwrap();
        balances.push(tenon_ledger::opening::Opening::simple(spare.code.clone(), (-difference).max(Decimal::ZERO), difference.max(Decimal::ZERO)));
        let (fixed, _) = tenant.set_ledger_openings(&ctx, &book, tenon_ledger::opening::Openings { period: openings.period, balances }).await.unwrap();
        assert!(fixed.opening_balanced());
        tenant.close_ledger_periods(&ctx, &book, openings.period, CloseOptions { force: true, ..CloseOptions::default() }).await.unwrap();
    }
}

/// `shared/data/saf-t` beside the repository (read there, never copied in).
fn shared_saft(file: &str) -> std::path::PathBuf {
    let start = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .skip(2)
        .map(|dir| dir.join("shared/data/saf-t"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| start.join("../../../shared/data/saf-t"))
        .join(file)
}

/// A line of `account` with one dimension value.
fn valued(account: &str, dimension: Dimension, value: &str, debit: i64, credit: i64) -> Line {
    let mut line = Line::simple(
        "往来",
        AccountCode::parse(account).unwrap(),
        Decimal::new(debit, 2),
        Decimal::new(credit, 2),
    );
    line.dimensions = BTreeMap::from([(dimension, value.to_owned())]);
    line
}

fn plain(account: &str, debit: i64, credit: i64) -> Line {
    Line::simple(
        "往来",
        AccountCode::parse(account).unwrap(),
        Decimal::new(debit, 2),
        Decimal::new(credit, 2),
    )
}

fn draft(day: u32, lines: Vec<Line>) -> VoucherDraft {
    VoucherDraft {
        date: NaiveDate::from_ymd_opt(2026, 10, day).unwrap(),
        word: Word::Ji,
        attachments: 0,
        lines,
    }
}

/// An opening balance in cents, of one customer when given.
fn opening(
    account: &str,
    customer: Option<&str>,
    debit: i64,
    credit: i64,
) -> tenon_ledger::opening::Opening {
    let mut entry = tenon_ledger::opening::Opening::simple(
        AccountCode::parse(account).unwrap(),
        Decimal::new(debit, 2),
        Decimal::new(credit, 2),
    );
    if let Some(customer) = customer {
        entry.dimensions = BTreeMap::from([(Dimension::Customer, customer.to_owned())]);
    }
    entry
}

/// The book 主账套 of a new organization 婚庆公司, opening in `period`: 客户A owes 500.00 on 1122, 客户B paid
/// 200.00 in advance (a credit balance of 1122), 1002 holds 1,000.00 and 4001 1,300.00. Answers the
/// organization.
async fn wedding_book(store: &tenon_store::Store, period: &str) -> tenon_model::OrgId {
    use tenon_ledger::opening::Openings;
    let (org, _) = new_org(store, "婚庆公司").await;
    let tenant = store.tenant(org.id);
    let ctx = WriteContext::system();
    tenant
        .create_ledger_book(&ctx, settings("主账套"))
        .await
        .unwrap();
    let balances = vec![
        opening("1122", Some("客户A"), 50_000, 0),
        opening("1122", Some("客户B"), 0, 20_000),
        opening("1002", None, 100_000, 0),
        opening("4001", None, 0, 130_000),
    ];
    let period = Period::parse(period).unwrap();
    tenant
        .set_ledger_openings(
            &ctx,
            &BookRef::name("主账套"),
            Openings { period, balances },
        )
        .await
        .unwrap();
    org.id
}

backend_tests! {
    async fn kept_balances_by_dimension_value_follow_every_path_that_changes_posted_lines(store) {
        use Dimension::{Customer, Department};
        // Openings of 2026-09: 客户A owes 500.00, 客户B paid 200.00 in advance (a credit balance of 1122).
        let org = wedding_book(&store, "2026-09").await;
        let tenant = store.tenant(org);
        let ctx = WriteContext::system();
        let book = BookRef::name("主账套");
        let check = || async { tenant.rebuilt_balances(&book).await.unwrap() };

        // A batch: a sale to 客户A, a receipt from 客户B beyond what it owed, a sale to 客户C, an advance from
        // 客户D (2203 credit) and a debit of 2203 for 客户A, an expense by department.
        let posted = tenant.create_vouchers(&ctx, &book, vec![
            draft(3, vec![valued("1122", Customer, "客户A", 30_000, 0), plain("6001", 0, 30_000)]),
            draft(4, vec![plain("1002", 10_000, 0), valued("1122", Customer, "客户B", 0, 10_000)]),
            draft(5, vec![valued("1122", Customer, "客户C", 5_000, 0), plain("6001", 0, 5_000)]),
            draft(6, vec![plain("1002", 8_000, 0), valued("2203", Customer, "客户D", 0, 8_000)]),
            draft(7, vec![valued("2203", Customer, "客户A", 4_000, 0), plain("1002", 0, 4_000)]),
            draft(8, vec![valued("6601", Department, "销售部", 3_000, 0), plain("1002", 0, 3_000)]),
        ], VoucherState::Posted).await.unwrap();
        check().await;
        // One voucher through draft → reviewed → posted; a draft that is deleted again.
        let single = tenant.create_voucher(&ctx, &book, draft(9, vec![valued("1122", Customer, "客户C", 2_500, 0), plain("6001", 0, 2_500)])).await.unwrap();
        check().await;
        tenant.advance_voucher(&ctx, &book, single.id, VoucherState::Reviewed).await.unwrap();
        tenant.advance_voucher(&ctx, &book, single.id, VoucherState::Posted).await.unwrap();
        check().await;
        let doomed = tenant.create_voucher(&ctx, &book, draft(10, vec![valued("1122", Customer, "客户E", 99_900, 0), plain("6001", 0, 99_900)])).await.unwrap();
        tenant.delete_draft_voucher(&ctx, &book, doomed.id).await.unwrap();
        check().await;
        // The sale to 客户A reversed; the period carried forward, closed and reopened.
        tenant.reverse_voucher(&ctx, &book, posted[0].id, NaiveDate::from_ymd_opt(2026, 10, 11).unwrap()).await.unwrap();
        check().await;
        let october = Period::parse("2026-10").unwrap();
        let (_, carried) = tenant.carry_forward(&ctx, &book, october).await.unwrap();
        assert_eq!(carried.len(), 1);
        check().await;
        tenant.close_ledger_periods(&ctx, &book, october, CloseOptions::default()).await.unwrap();
        tenant.reopen_ledger_periods(&ctx, &book, october).await.unwrap();
        check().await;

        // Per customer: 1122 客户A 500.00 (opening; the sale reversed), 客户B −300.00, 客户C 75.00; 2203
        // 客户A +40.00, 客户D −80.00. 应收账款 = the debit sides (575.00 + 40.00), 预收款项 = the credit
        // sides (80.00 + 300.00); the year-end column has none of it (the book starts in 2026-09).
        let sheet = tenant.balance_sheet(&book, october, None).await.unwrap();
        let line = |code: &str| { let l = sheet.lines.iter().find(|l| l.code == code).unwrap(); (l.current, l.previous) };
        assert_eq!(line("5"), (Decimal::new(61_500, 2), Decimal::ZERO), "应收账款");
        assert_eq!(line("35"), (Decimal::new(38_000, 2), Decimal::ZERO), "预收款项");
        assert_eq!(line("29").0, line("59").0, "assets = liabilities + equity");
        // September (the openings alone) and the income statement of October (sales 375.00 − 300.00
        // reversed − expense 30.00), the amount the carry-forward moved to 本年利润.
        let september = tenant.balance_sheet(&book, Period::parse("2026-09").unwrap(), None).await.unwrap();
        let early = |code: &str| september.lines.iter().find(|l| l.code == code).unwrap().current;
        assert_eq!((early("5"), early("35")), (Decimal::new(50_000, 2), Decimal::new(20_000, 2)));
        let income = tenant.income_statement(&book, october, october, None).await.unwrap();
        let moved: Decimal = carried[0].voucher.lines.iter().filter(|l| l.account.as_str() == "4103").map(|l| l.credit - l.debit).sum();
        assert_eq!((income.lines.last().unwrap().current, moved), (Decimal::new(4_500, 2), Decimal::new(4_500, 2)));

        // An import writes its lines through the same path.
        let books = tenant.export_books(&book, october, october, false).await.unwrap();
        tenant.import_books(&ctx, "导入账套", books, &|_, _| {}).await.unwrap();
        tenant.rebuilt_balances(&BookRef::name("导入账套")).await.unwrap();

        // Migration 0020's backfill, replayed on the emptied table, gives the same sums.
        let migration = match store.backend() {
            tenon_store::Backend::Sqlite => include_str!("../../migrations/sqlite/0020_ledger_value_balances.sql"),
            tenon_store::Backend::Postgres => include_str!("../../migrations/postgres/0020_ledger_value_balances.sql"),
        };
        let (_, backfill) = migration.split_once("-- The posted lines of the books that exist.").unwrap();
        tenon_store::testing::execute(&store, "DELETE FROM ledger_value_balances".to_owned()).await;
        assert!(tenant.rebuilt_balances(&book).await.is_err(), "the check sees an emptied table");
        tenon_store::testing::execute(&store, backfill.trim().trim_end_matches(';').to_owned()).await;
        check().await;
        tenant.rebuilt_balances(&BookRef::name("导入账套")).await.unwrap();
        assert_eq!(tenant.balance_sheet(&book, october, None).await.unwrap().lines, sheet.lines);
    }
}

backend_tests! {
    async fn concurrent_writers_naming_new_customers_give_each_its_own_next_free_code(store) {
        let (org, _) = new_org(&store, "婚庆公司").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        tenant.create_ledger_book(&ctx, settings("主账套")).await.unwrap();
        let mut tasks = Vec::new();
        for task in 0..4u32 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let tenant = store.tenant(org.id);
                // Each batch names five customers no other batch names, and one every batch names.
                let drafts: Vec<VoucherDraft> = (0..6u32)
                    .map(|i| {
                        let mut draft = sale(1 + i, 100);
                        let customer = if i == 5 { "共同客户".to_owned() } else { format!("客户{task}-{i}") };
                        draft.lines[0].dimensions = BTreeMap::from([(Dimension::Customer, customer)]);
                        draft
                    })
                    .collect();
                tenant.create_vouchers(&WriteContext::system(), &BookRef::name("主账套"), drafts, VoucherState::Posted).await.unwrap();
            }));
        }
        for task in tasks { task.await.unwrap(); }
        let values = tenant.ledger_dimension_values(&BookRef::name("主账套"), Some(Dimension::Customer)).await.unwrap();
        assert_eq!(values.len(), 21);
        let mut codes: Vec<String> = values.iter().map(|v| v.code.clone()).collect();
        codes.sort();
        assert_eq!(codes, (1..=21).map(|n| format!("C{n:04}")).collect::<Vec<_>>());
        // A code set by hand is kept; the next free code follows the highest of the form.
        let (set, created) = tenant.put_ledger_dimension_value(&ctx, &BookRef::name("主账套"), Dimension::Customer, "共同客户",
            tenon_store::ledger::DimensionValueChange { code: Some("C0100".into()), name: None }).await.unwrap();
        assert_eq!((set.code.as_str(), created), ("C0100", false));
        let (new, created) = tenant.put_ledger_dimension_value(&ctx, &BookRef::name("主账套"), Dimension::Customer, "新客户",
            tenon_store::ledger::DimensionValueChange::default()).await.unwrap();
        assert_eq!((new.code.as_str(), new.name.as_str(), created), ("C0101", "新客户", true));
        let other = values.iter().find(|v| v.value != "共同客户").unwrap().code.clone();
        let taken = tenant.put_ledger_dimension_value(&ctx, &BookRef::name("主账套"), Dimension::Customer, "新客户",
            tenon_store::ledger::DimensionValueChange { code: Some(other.clone()), name: None }).await.unwrap_err();
        assert!(matches!(taken, StoreError::Conflict { .. }), "{taken}");
    }

    async fn an_export_opens_with_the_balances_by_customer_before_its_first_period(store) {
        let (org, _) = new_org(&store, "婚庆公司").await;
        let tenant = store.tenant(org.id);
        let ctx = WriteContext::system();
        tenant.create_ledger_book(&ctx, settings("主账套")).await.unwrap();
        let book = BookRef::name("主账套");
        let september = |day: u32, cents: i64| {
            let mut draft = sale(day, cents);
            draft.date = NaiveDate::from_ymd_opt(2026, 9, day).unwrap();
            draft
        };
        tenant.create_vouchers(&ctx, &book, vec![september(3, 10_000), sale(5, 500)], VoucherState::Posted).await.unwrap();
        let october = Period::parse("2026-10").unwrap();
        let books = tenant.export_books(&book, october, october, false).await.unwrap();
        assert_eq!(books.opening_period, Some(october));
        let by_customer = books.opening_by_value(Dimension::Customer);
        assert_eq!(by_customer.len(), 1);
        assert_eq!(by_customer[&("湖州优品".to_owned(), AccountCode::parse("1122").unwrap())], Decimal::new(10_000, 2));
        let (bytes, _) = tenon_ledger::exchange::export(tenon_ledger::exchange::Format::Saft, &books, &Default::default()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("<BalanceAccount>\n          <AccountID>1122</AccountID>\n          <OpeningDebitBalance>100.00</OpeningDebitBalance>\n          <ClosingDebitBalance>105.00</ClosingDebitBalance>"), "{text}");
        assert_eq!(books.value_code(Dimension::Customer, "湖州优品"), Some("C0001"));
    }
}

backend_tests! {
    async fn the_year_end_column_of_a_balance_sheet_is_the_balance_sheet_of_the_year_end(store) {
        use tenon_ledger::opening::Openings;
        use Dimension::Customer;
        // The book opens in 2025-11: 客户A owes 500.00, 客户B paid 200.00 in advance.
        let org = wedding_book(&store, "2025-11").await;
        let tenant = store.tenant(org);
        let ctx = WriteContext::system();
        let book = BookRef::name("主账套");
        let on = |year: i32, month: u32, day: u32, lines: Vec<Line>| VoucherDraft {
            date: NaiveDate::from_ymd_opt(year, month, day).unwrap(),
            ..draft(1, lines)
        };
        // Before the year end: a sale to 客户C, an advance from 客户D. After it: 客户B buys 500.00 (its
        // balance turns to a debit), 客户A pays 150.00.
        tenant.create_vouchers(&ctx, &book, vec![
            on(2025, 12, 5, vec![valued("1122", Customer, "客户C", 10_000, 0), plain("6001", 0, 10_000)]),
            on(2025, 12, 6, vec![plain("1002", 8_000, 0), valued("2203", Customer, "客户D", 0, 8_000)]),
            on(2026, 3, 10, vec![valued("1122", Customer, "客户B", 50_000, 0), plain("6001", 0, 50_000)]),
            on(2026, 10, 3, vec![plain("1002", 15_000, 0), valued("1122", Customer, "客户A", 0, 15_000)]),
        ], VoucherState::Posted).await.unwrap();

        let october = tenant.balance_sheet(&book, Period::parse("2026-10").unwrap(), None).await.unwrap();
        let year_end = tenant.balance_sheet(&book, Period::parse("2025-12").unwrap(), None).await.unwrap();
        let line = |code: &str| { let l = october.lines.iter().find(|l| l.code == code).unwrap(); (l.current, l.previous) };
        // 应收账款 = the debit sides of 1122 per customer: A 500 + C 100 at the year end, A 350 + B 300 +
        // C 100 in October; 预收款项 = the credit sides: B 200 + D 80 at the year end, D 80 in October.
        assert_eq!(line("5"), (Decimal::new(75_000, 2), Decimal::new(60_000, 2)), "应收账款");
        assert_eq!(line("35"), (Decimal::new(8_000, 2), Decimal::new(28_000, 2)), "预收款项");
        assert_eq!(line("1"), (Decimal::new(123_000, 2), Decimal::new(108_000, 2)), "货币资金");
        assert_eq!(line("29"), line("59"), "assets = liabilities + equity, both columns");
        for (later, end) in october.lines.iter().zip(&year_end.lines) {
            assert_eq!(later.previous, end.current, "{} {}", later.code, later.name);
        }
        // A book that opens in January: its openings are the previous year end's closing balances.
        tenant.create_ledger_book(&ctx, settings("新账套")).await.unwrap();
        let january = BookRef::name("新账套");
        let balances = vec![opening("1122", Some("客户A"), 50_000, 0), opening("4001", None, 0, 50_000)];
        tenant.set_ledger_openings(&ctx, &january, Openings { period: Period::parse("2026-01").unwrap(), balances }).await.unwrap();
        tenant.create_vouchers(&ctx, &january, vec![
            on(2026, 2, 1, vec![valued("1122", Customer, "客户A", 0, 70_000), plain("1002", 70_000, 0)]),
        ], VoucherState::Posted).await.unwrap();
        let sheet = tenant.balance_sheet(&january, Period::parse("2026-10").unwrap(), None).await.unwrap();
        let line = |code: &str| { let l = sheet.lines.iter().find(|l| l.code == code).unwrap(); (l.current, l.previous) };
        assert_eq!(line("5"), (Decimal::ZERO, Decimal::new(50_000, 2)), "应收账款");
        assert_eq!(line("35"), (Decimal::new(20_000, 2), Decimal::ZERO), "预收款项");
        assert_eq!(line("29"), line("59"), "assets = liabilities + equity, both columns");
    }
}
