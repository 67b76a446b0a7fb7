import Foundation
import MeterCrypto
import MeterFirmware
import MeterHAL

struct WearCampaign {
    let options: FaultCampaignOptions
    func run(progress: @escaping @Sendable (Int, Int) -> Void) throws -> FaultCampaignReport {
        FaultCampaignReport(.wear, seed: options.seed)
    }
}

struct RandomCampaign {
    let options: FaultCampaignOptions
    func run(progress: @escaping @Sendable (Int, Int) -> Void) throws -> FaultCampaignReport {
        FaultCampaignReport(.random, seed: options.seed)
    }
}
