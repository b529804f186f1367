def run_deposits(account, amounts, workers):
    # Nothing shared while the threads work: each thread sums its own approved amounts, and the
    # calling thread adds the tallies to the balance once every thread is done. No lock needed.
    def tally(share):
        total, declined = 0, []
        for amount in share:
            try:
                approve(amount)
            except Declined as error:
                declined.append(error)
            else:
                total += amount
        return total, declined

    with ThreadPoolExecutor(workers) as executor:
        tallies = list(executor.map(tally, [amounts[i::workers] for i in range(workers)]))
    account.balance = account.balance + sum(total for total, _ in tallies)
    errors = [error for _, declined in tallies for error in declined]
    if errors:
        raise errors[0]
