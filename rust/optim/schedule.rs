//! Learning-rate schedules (spec section 7): the rate of each epoch, from
//! the base rate, the epoch and the rows seen so far.

/// How the learning rate moves from epoch to epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// `base / (samples_seen + 1)^power_t` (scikit-learn's invscaling).
    InvScaling {
        /// The exponent of the decay.
        power_t: f64,
    },
    /// The base rate, divided by 5 on each plateau (scikit-learn's adaptive).
    Adaptive,
    /// `base · gamma^⌊epoch / step_size⌋` (PyTorch's StepLR).
    Step {
        /// Epochs between two decays (0 counts as 1).
        step_size: u64,
        /// The factor of each decay.
        gamma: f64,
    },
    /// `eta_min + (base − eta_min)(1 + cos(π·epoch/t_max))/2` (PyTorch's cosine).
    Cosine {
        /// Epochs from the base rate down to `eta_min` (0 counts as 1).
        t_max: u64,
        /// The lowest rate, reached at epoch `t_max`.
        eta_min: f64,
    },
}

impl Schedule {
    /// The learning rate of an epoch.
    pub fn rate(&self, base: f64, epoch: u64, samples_seen: u64) -> f64 {
        match *self {
            Schedule::Constant | Schedule::Adaptive => base,
            Schedule::InvScaling { power_t } => base / ((samples_seen as f64) + 1.0).powf(power_t),
            Schedule::Step { step_size, gamma } => {
                base * gamma.powf((epoch / step_size.max(1)) as f64)
            }
            Schedule::Cosine { t_max, eta_min } => {
                let phase = std::f64::consts::PI * epoch as f64 / t_max.max(1) as f64;
                eta_min + (base - eta_min) * (1.0 + phase.cos()) / 2.0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_by_hand() {
        assert_eq!(
            Schedule::Step {
                step_size: 2,
                gamma: 0.5
            }
            .rate(1.0, 5, 0),
            0.25
        );
        assert!(
            (Schedule::Cosine {
                t_max: 10,
                eta_min: 0.0
            }
            .rate(1.0, 5, 0)
                - 0.5)
                .abs()
                < 1e-15
        );
        assert_eq!(Schedule::InvScaling { power_t: 0.5 }.rate(1.0, 3, 3), 0.5);
    }
}
