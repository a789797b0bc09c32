//! θ̄(t) and Σ(t) for XOR through the library API, then the diagonal of Σ(1): the variances
//! of the Gaussian approximation θ^η(1) ≈ N(θ̄(1), η Σ(1)) of constant-learning-rate
//! backprop (Finnoff, Theorem 4.1), per weight in the order of SPEC §1.
//!
//! Run with `cargo run --example limit_xor -p diffapprox-cli`.

use diffapprox_model::Problem;
use diffapprox_theory::{LimitOptions, solve_limit};

fn main() -> anyhow::Result<()> {
    let problem = Problem::resolve("xor")?;
    let objective = problem.objective();
    // θ_0 = 0.5·ξ, ξ ~ N(0, I_9) from seed 0 (the CLI's default)
    let theta0 = problem.initial_point(0, 0.5);
    let options = LimitOptions {
        save_times: vec![0.5, 1.0],
        step: 0.01,
        covariance: true,
    };
    let solution = solve_limit(&objective, &theta0, &options)?;

    let k = solution
        .times
        .iter()
        .position(|&t| t == 1.0)
        .expect("t = 1 is a save time");
    let sigma = &solution.sigma.as_ref().expect("covariance was asked for")[k];
    let shape = problem.network.shape;
    println!(
        "xor, {} parameters, {} RK4 steps",
        problem.dim(),
        solution.steps
    );
    println!(
        "E(θ̄(0)) = {:.6}  →  E(θ̄(1)) = {:.6}",
        objective_error(&problem, &theta0),
        solution.error[k]
    );
    println!("{:>8}  {:>12}  {:>12}", "weight", "θ̄_i(1)", "Σ_ii(1)");
    for i in 0..problem.dim() {
        println!(
            "{:>8}  {:>12.6}  {:>12.6e}",
            shape.parameter_name(i),
            solution.theta_bar[k][i],
            sigma[(i, i)]
        );
    }
    Ok(())
}

fn objective_error(problem: &Problem, theta: &[f64]) -> f64 {
    let objective = problem.objective();
    diffapprox_model::Evaluator::new(&objective).error(theta)
}
