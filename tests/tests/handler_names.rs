//! The seven handlers are named in three places that cannot share one enum
//! without making the dependency-light infra model depend on core: the handler
//! dispatch (`ccx_core::handlers::Handler`), the deployed functions
//! (`ccx_infra::Handler`) and the local engine's ASL substitutions. This pins
//! that they name the same functions and the same `${...FunctionArn}` variables.

use std::collections::BTreeSet;

use ccx_local::engine::FUNCTION_SUBSTITUTIONS;

#[test]
fn core_infra_and_the_local_engine_name_the_same_seven_functions() {
    let core: BTreeSet<&str> = ccx_core::handlers::Handler::ALL
        .iter()
        .map(|h| h.name())
        .collect();
    let infra: BTreeSet<&str> = ccx_infra::Handler::ALL.iter().map(|h| h.name()).collect();
    assert_eq!(core.len(), 7);
    assert_eq!(core, infra, "core dispatch and deployed functions differ");

    let infra_substitutions: BTreeSet<(String, &str)> = ccx_infra::Handler::ALL
        .iter()
        .map(|h| (h.asl_substitution(), h.name()))
        .collect();
    let local_substitutions: BTreeSet<(String, &str)> = FUNCTION_SUBSTITUTIONS
        .iter()
        .map(|(var, h)| (var.to_string(), h.name()))
        .collect();
    assert_eq!(
        infra_substitutions, local_substitutions,
        "the template and the local engine substitute different functions into the ASL"
    );
}
