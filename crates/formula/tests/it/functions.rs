//! One or more checks per function, by its documented behaviour.

use crate::support::eval;

#[test]
fn smoke() {
    assert_eq!(eval("1 + 2 * 3"), "7");
    assert_eq!(eval("ROUND({单价} * {Qty}, 2)"), "37.50");
    assert_eq!(eval("ROUND(2.5, 0)"), "3");
    assert_eq!(eval("ROUND(-2.5, 0)"), "-3");
    assert_eq!(eval("10 / 4"), "2.500000");
    assert_eq!(eval("1 / 0"), "#ERR #DIV/0!: division by zero");
    assert_eq!(eval("{Name} & \"!\""), "湖州优品 Co.!");
}
