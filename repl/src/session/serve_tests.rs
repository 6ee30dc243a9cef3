//! Session tests of the answers `handle` gives (SPEC 14.1): a `Response`
//! that cannot be an HTTP answer fails the request like any error, with the
//! `x-strata-*` headers and the JSON error body; message framing is the
//! server's.

use super::override_tests::{header, request, serve};
use super::tests::{ok, session};

#[test]
fn a_response_that_cannot_be_sent_fails_its_request_with_the_usual_error_answer() {
    let s = session();
    ok(
        &s,
        r#"fn handle(req: Request) -> Response {
    if req.path == "/name" { return Response { headers: {"bad header": "v"} }; }
    if req.path == "/value" { return Response { headers: {"x-ok": "a\nb"} }; }
    if req.path == "/status" { return Response { status: 5 }; }
    Response { headers: {"content-length": "1000", "x-ok": "yes"}, body: "hi" }
}"#,
    );
    let at = |path: &str| serve(&s, &super::HttpRequest { path: path.into(), ..request(&[], &[]) });
    for (path, why) in
        [("/name", "not an HTTP header name"), ("/value", "control character"), ("/status", "5 is not an HTTP status")]
    {
        let r = at(path);
        assert_eq!(r.status, 500, "{path}");
        assert!(r.body.contains(why) && r.body.contains("\"world\":2"), "{path}: {}", r.body);
        assert_eq!(header(&r, "x-strata-world"), Some("2"), "{path}");
        assert_eq!(header(&r, "content-type"), Some("application/json"), "{path}");
    }
    let r = at("/");
    assert_eq!((r.status, r.body.as_str(), header(&r, "x-ok")), (200, "hi", Some("yes")));
    assert_eq!(header(&r, "content-length"), None, "the server frames the answer");
}
