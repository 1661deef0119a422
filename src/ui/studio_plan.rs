//! The studio's side of the compute plan and the price table: asking the job worker for the
//! launch dialog's plan (tier, reason and cost per asset) whenever its choices, the tier
//! overrides or the prices change, and applying the answers. Nothing here blocks the UI thread.

use super::panels::costs::CostsState;
use super::panels::prices::PricesState;
use super::workbench_state::LaunchProblem;
use super::{JobEvent, JobRequest, Studio};

impl Studio {
    /// Asks for the compute plan of the launch dialog again when what it depends on changed.
    pub(super) fn refresh_launch_compute_plan(&mut self) {
        let Some(launch) = &self.workbench.launch else {
            return;
        };
        let key = format!(
            "{}|{:?}|{}",
            launch.plan_key(&self.canvas.selection, self.doc.revision()),
            launch.overrides,
            self.workspace.prices_revision
        );
        if launch.compute_for.as_deref() == Some(key.as_str()) {
            return;
        }
        let request = launch.remote_request(self.project(), &self.canvas.selection);
        let request = match request {
            Ok(request) => request,
            Err(e) => {
                // Nothing to estimate: the dialog says what is wrong with the choices, in
                // place of the estimate and of the AWS steps.
                if let Some(launch) = &mut self.workbench.launch {
                    launch.compute_for = Some(key);
                    launch.compute = Some(Err(e.clone()));
                    launch.aws_plan = Some(Err(e));
                }
                return;
            }
        };
        let id = self.next_request_id();
        let project = Box::new(self.project().clone());
        let sent = self
            .backend
            .send(JobRequest::ComputePlan {
                id,
                project,
                request: Box::new(request),
            })
            .is_ok();
        if sent && let Some(launch) = &mut self.workbench.launch {
            launch.compute_id = id;
            launch.compute_for = Some(key);
        }
    }

    /// Opens the Prices window and loads the table.
    pub fn open_prices(&mut self) {
        self.windows.prices = Some(PricesState::default());
        self.send_job(JobRequest::LoadPrices);
    }

    /// Opens the Costs window on this project's recorded costs.
    pub fn open_costs(&mut self) {
        self.windows.costs = Some(CostsState::default());
        let project = self.project().name.clone();
        self.send_job(JobRequest::CostHistory { project });
    }

    /// Sets (`Some`) or resets (`None`) one price in the workspace.
    pub fn set_price(&mut self, id: &str, usd: Option<f64>) {
        self.send_job(JobRequest::SetPrice {
            id: id.to_owned(),
            usd,
        });
    }

    /// Applies a compute-plan or price-table answer.
    pub(super) fn apply_compute_event(&mut self, event: JobEvent) {
        match event {
            JobEvent::ComputePlan { id, result } => {
                let result = result.map_err(LaunchProblem::App);
                if let Some(launch) = &mut self.workbench.launch
                    && launch.compute_id == id
                {
                    // One plan for both: the compute table and the steps on AWS.
                    launch.aws_plan = Some(
                        result
                            .as_ref()
                            .map(|p| p.steps.clone())
                            .map_err(Clone::clone),
                    );
                    launch.compute = Some(result.map(|p| Box::new(p.report)));
                }
            }
            JobEvent::Prices { result, edited } => {
                if edited && result.is_ok() {
                    self.workspace.prices_revision += 1;
                }
                if let Some(prices) = &mut self.windows.prices {
                    prices.apply(result, edited);
                } else if let Err(e) = result {
                    self.show_error(&format!("Could not change the prices: {e}"));
                }
            }
            JobEvent::CostHistory(result) => {
                if let Some(catalog) = &mut self.windows.catalog {
                    catalog.costs = Some(result.as_ref().map_err(Clone::clone).map(|h| {
                        h.per_asset
                            .iter()
                            .map(|t| (t.key.clone(), t.clone()))
                            .collect()
                    }));
                }
                if let Some(costs) = &mut self.windows.costs {
                    costs.history = Some(result);
                }
            }
            _ => {}
        }
    }
}
