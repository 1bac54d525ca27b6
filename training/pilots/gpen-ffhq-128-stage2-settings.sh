# The stage-2 pilots' settings by letter, in one place: the pilot script runs each, and the plan's stage 2
# (training/configs/gpen-ffhq-128.sh) takes the chosen one. Sourced by both (bash).
declare -A PILOT=(
  [a]="--learning_rate 2e-3"                      # the paper's loss: alpha 1, beta 0.02
  [b]="--learning_rate 5e-4"
  [c]="--learning_rate 2e-3 --alpha 10"
  [d]="--learning_rate 2e-3 --identity_weight 1"
)
